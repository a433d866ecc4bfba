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

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.clock import utcnow
from app.sessions import issue_token
from tests import slow_app
from tests.browser.server import free_port
from tests.conftest import PASSWORD_HASH, Database
from tests.hashing import cheap_argon2_environ
from tests.live_client import Hypercorn, Login, post_form, request, sse_request

ROOT = Path(__file__).resolve().parent.parent
SECRET = "live servers test"


class Warble(Hypercorn):
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
            start_new_session=True,
        )


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
                token = await issue_token(
                    session,
                    user_id,
                    remember=True,
                    user_agent="test",
                    expires_at=utcnow() + timedelta(days=1),
                )
                made.append((user_id, Login(token, SECRET)))
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
    live = await sse_request(a.port, "/events?page=other", alice)
    try:
        alice_name = await username_of(db, alice_id)
        started = time.perf_counter()
        assert await post_form(b.port, f"/user/{alice_name}/follow", bob) == 302
        arrived = await live.next_event("count", within=2.0)
        assert ">1</span>" in live.data
        assert arrived - started < 2.0
    finally:
        live.close()


async def test_a_killed_listener_is_replaced_and_the_event_still_arrives(db, two_servers):
    if db.backend != "postgres":
        pytest.skip("SQLite has no listener: its workers read the events table")
    a, b = two_servers
    (alice_id, alice), (_, bob) = await make_logins(db, 2)
    live = await sse_request(a.port, "/events?page=other", alice)
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
        assert await post_form(b.port, f"/user/{alice_name}/follow", bob) == 302
        await live.next_event("count", within=6.0)
        assert ">1</span>" in live.data
    finally:
        live.close()


async def test_sigterm_closes_fifty_streams_at_once_and_finishes_requests_in_flight(db, tmp_path):
    if db.backend != "sqlite":
        pytest.skip("shutdown does not depend on the database")
    server = Warble(db, tmp_path, app="tests.slow_app:create()")
    try:
        await server.ready()
        logins = await make_logins(db, 50)
        streams = [
            await sse_request(server.port, "/events?page=other", login) for _, login in logins
        ]
        slow = asyncio.create_task(request(server.port, "GET", "/slow?seconds=0.4", logins[0][1]))
        async with asyncio.timeout(10):  # poll with a deadline until /slow is in flight
            while not (tmp_path / slow_app.STARTED).exists():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(1.5):  # every stream ends: read to its end
            await asyncio.gather(*(stream.reader.read() for stream in streams))
        closed = time.monotonic() - started
        answer = await slow
        assert answer.status == 200 and b"finished" in await answer.reader.read()  # finished
        await asyncio.to_thread(server.process.wait, 10)
        exited = time.monotonic() - started
        assert server.process.returncode == 0
        assert exited < 2.0, f"the worker took {exited:.2f} s to exit (streams: {closed:.2f} s)"
        for stream in streams:
            stream.close()
        answer.close()
    finally:
        server.stop()
