"""Live streams against real hypercorn processes: across two servers on one database, after
the PostgreSQL listener is killed, and through a SIGTERM with many streams open."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app import create_app
from app.clock import utcnow
from app.queries import user_sessions
from app.sessions import token_hash
from tests import slow_app
from tests.browser.server import free_port
from tests.conftest import PASSWORD_HASH, Database
from tests.hashing import cheap_argon2_environ

ROOT = Path(__file__).resolve().parent.parent
SECRET = "live servers test"
CSRF = "live-servers-csrf"


class Warble:
    """hypercorn serving Warble on a free port, as `make run` does."""

    def __init__(self, db: Database, folder: Path, app: str = "app:create_app()") -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            **cheap_argon2_environ(),
            **db.environ(),
            "SECRET_KEY": SECRET,
            "WARBLE_INSTANCE": str(folder),
            "SECURE_COOKIES": "false",
            "RATE_LIMITS": "off",
        }
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{self.port}"),
                *("--workers", "1", "--graceful-timeout", "10", app),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        async with asyncio.timeout(30):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    return
                except OSError:
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Login:
    """Cookies of a session made directly in the database, signed as the servers sign them."""

    signer = create_app({"SECRET_KEY": SECRET, "DATABASE_URL": "sqlite+aiosqlite://"})

    def __init__(self, token: str) -> None:
        auth = self.signer.extensions["QUART_AUTH"][0].dump_token(token, self.signer)
        serializer = self.signer.session_interface.get_signing_serializer(self.signer)
        assert serializer is not None
        self.cookie = f"warble_auth={auth}; warble_session={serializer.dumps({'csrf': CSRF})}"


async def make_logins(db: Database, count: int) -> list[tuple[int, Login]]:
    """`count` users, each logged in once: (user id, cookies)."""
    engine = db.engine()
    made = []
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            for n in range(count):
                name = f"live{n}_{secrets.token_hex(3)}"
                result = await session.execute(
                    text(
                        "INSERT INTO users (username, email, email_normalized, password_hash, "
                        "about_me, created_at) VALUES (:n, :e, :e, :h, '', :t) RETURNING id"
                    ),
                    {"n": name, "e": f"{name}@example.com", "h": PASSWORD_HASH, "t": utcnow()},
                )
                user_id = result.scalar_one()
                token = secrets.token_urlsafe(32)
                now = utcnow()
                await user_sessions.create_session(
                    session,
                    user_id=user_id,
                    token_hash=token_hash(token),
                    remember=True,
                    user_agent="test",
                    now=now,
                    expires_at=now + timedelta(days=1),
                )
                made.append((user_id, Login(token)))
            await session.commit()
    finally:
        await engine.dispose()
    return made


async def username_of(db: Database, user_id: int) -> str:
    engine = db.engine()
    try:
        async with engine.connect() as connection:
            query = text("SELECT username FROM users WHERE id = :i")
            return (await connection.execute(query, {"i": user_id})).scalar_one()
    finally:
        await engine.dispose()


async def request(port: int, method: str, path: str, login: Login, form: dict | None = None):
    """One HTTP/1.1 request; returns (status, reader, writer) with the headers read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = urlencode(form or {}).encode()
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Cookie: {login.cookie}",
        "Connection: close",
    ]
    if method == "POST":
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return status, reader, writer


async def post(port: int, path: str, login: Login) -> int:
    status, _, writer = await request(port, "POST", path, login, {"csrf_token": CSRF})
    writer.close()
    return status


async def next_event(reader: asyncio.StreamReader, name: str, within: float) -> str:
    """The data of the next SSE message called `name` (the body is chunked: read lines)."""
    async with asyncio.timeout(within):
        current = None
        while True:
            line = (await reader.readline()).decode().strip()
            if line.startswith("event: "):
                current = line[len("event: ") :]
            elif line.startswith("data: ") and current == name:
                return line[len("data: ") :]


@pytest.fixture
async def two_servers(db: Database, tmp_path: Path):
    servers = [Warble(db, tmp_path / name) for name in ("a", "b")]
    try:
        await asyncio.gather(*(server.ready() for server in servers))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def test_an_event_caused_on_one_server_reaches_a_stream_on_the_other(db, two_servers):
    a, b = two_servers
    (alice_id, alice), (_, bob) = await make_logins(db, 2)
    status, reader, writer = await request(a.port, "GET", "/events?page=other", alice)
    assert status == 200
    try:
        started = time.monotonic()
        alice_name = await username_of(db, alice_id)
        assert await post(b.port, f"/user/{alice_name}/follow", bob) == 302
        data = await next_event(reader, "count", within=2.0)
        assert ">1</span>" in data
        assert time.monotonic() - started < 2.0
    finally:
        writer.close()


async def test_a_killed_listener_is_replaced_and_the_event_still_arrives(db, two_servers):
    if db.backend != "postgres":
        pytest.skip("SQLite has no listener: its workers read the events table")
    a, b = two_servers
    (alice_id, alice), (_, bob) = await make_logins(db, 2)
    status, reader, writer = await request(a.port, "GET", "/events?page=other", alice)
    assert status == 200
    try:
        engine = db.engine()
        try:
            async with engine.begin() as connection:
                killed = await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'warble-events' AND pid <> pg_backend_pid()"
                    )
                )
                assert len(killed.all()) >= 2  # both servers' listeners (and maybe others')
        finally:
            await engine.dispose()
        alice_name = await username_of(db, alice_id)
        assert await post(b.port, f"/user/{alice_name}/follow", bob) == 302
        assert ">1</span>" in await next_event(reader, "count", within=6.0)
    finally:
        writer.close()


async def test_sigterm_closes_fifty_streams_at_once_and_finishes_requests_in_flight(db, tmp_path):
    if db.backend != "sqlite":
        pytest.skip("shutdown does not depend on the database")
    server = Warble(db, tmp_path, app="tests.slow_app:create()")
    try:
        await server.ready()
        logins = await make_logins(db, 50)
        streams = [
            await request(server.port, "GET", "/events?page=other", login) for _, login in logins
        ]
        assert {status for status, _, _ in streams} == {200}
        slow = asyncio.create_task(request(server.port, "GET", "/slow?seconds=0.4", logins[0][1]))
        async with asyncio.timeout(10):  # poll with a deadline until /slow is in flight
            while not (tmp_path / slow_app.STARTED).exists():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(1.5):  # every stream ends: read to its end
            await asyncio.gather(*(stream.read() for _, stream, _ in streams))
        closed = time.monotonic() - started
        status, reader, writer = await slow
        assert status == 200 and b"finished" in await reader.read()  # in flight: finished
        await asyncio.to_thread(server.process.wait, 10)
        exited = time.monotonic() - started
        assert server.process.returncode == 0
        assert exited < 2.0, f"the worker took {exited:.2f} s to exit (streams: {closed:.2f} s)"
        for _, _, stream_writer in streams:
            stream_writer.close()
        writer.close()
    finally:
        server.stop()
