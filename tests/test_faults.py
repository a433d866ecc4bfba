"""Faults: the database goes away and comes back, SQLite locks, SIGTERM mid-request."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app import db as db_module
from app import events as events_module
from app.models import Post
from tests import slow_app
from tests.browser.server import free_port
from tests.conftest import BACKENDS, TEST_DATABASE_URL, Client, body
from tests.hashing import cheap_argon2_environ

ROOT = Path(__file__).resolve().parent.parent


async def check_unavailable(client: Client) -> None:
    page = await client.get("/explore")
    assert page.status_code == 503
    html = await body(page)
    assert "temporarily unavailable" in html and "<html" in html
    assert page.headers["Retry-After"] == "5"
    fragment = await client.get("/explore", htmx=True)
    assert fragment.status_code == 503 and "<html" not in await body(fragment)
    health = await client.get("/healthz")
    assert health.status_code == 503
    assert json.loads(await body(health))["database"] == "unreachable"


async def test_wrong_database_url_gives_503_not_500(make_app):
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none"
    app = await make_app(DATABASE_URL=nowhere, DATABASE_SCHEMA=None)
    await check_unavailable(Client(app.test_client()))


class RefusingPostgres:
    """A server that answers every PostgreSQL connection as one shutting down or starting up
    does: an ErrorResponse with SQLSTATE 57P03 (cannot connect now), then it hangs up."""

    SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")

    def __init__(self) -> None:
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(8)
        if first == self.SSL_REQUEST:
            writer.write(b"N")  # no TLS here; the startup message follows
            first = await reader.readexactly(8)
        await reader.readexactly(int.from_bytes(first[:4], "big") - 8)  # the rest of it
        fields = b"".join(
            code + value.encode() + b"\0"
            for code, value in (
                (b"S", "FATAL"),
                (b"V", "FATAL"),
                (b"C", "57P03"),
                (b"M", "the database system is shutting down"),
            )
        )
        message = fields + b"\0"
        writer.write(b"E" + (len(message) + 4).to_bytes(4, "big") + message)
        await writer.drain()
        writer.close()


async def test_a_postgres_shutting_down_gives_503_not_500(make_app):
    """PostgreSQL refuses new connections while it stops and starts (a restart, a failover):
    what a reader gets meanwhile is "temporarily unavailable", not an error page."""
    refusing = RefusingPostgres()
    await refusing.start()
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{refusing.port}/warble"
        app = await make_app(DATABASE_URL=url, DATABASE_SCHEMA=None)
        await check_unavailable(Client(app.test_client()))
    finally:
        await refusing.stop()


class Relay:
    """A TCP relay in front of PostgreSQL that the test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.upstream: set[asyncio.StreamWriter] = set()
        self.dropped: set[asyncio.StreamWriter] = set()  # app sides whose path died silently

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()

    def drop_silently(self) -> None:
        """Each connection's path dies without a word to the app, as behind a router that
        forgot it: the database side ends; the app hears of it only when it next sends."""
        self.dropped |= self.writers - self.upstream
        for writer in list(self.upstream):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        self.upstream.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if dst.is_closing():  # the silently dropped path: the app's data is refused
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if dst not in self.dropped:  # a silently dropped path tells the app nothing
                    dst.close()
                    writer.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@asynccontextmanager
async def relayed_app(make_app: Callable[..., Any]) -> AsyncIterator[tuple[Client, Relay]]:
    """An app whose PostgreSQL is reached through a Relay."""
    url = make_url(TEST_DATABASE_URL)
    relay = Relay(url.port or 5432)
    await relay.start()
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    try:
        yield Client((await make_app(DATABASE_URL=relayed)).test_client()), relay
    finally:
        await relay.stop()


@pytest.mark.skipif("postgres" not in BACKENDS, reason="TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("empty_db", ["postgres"], indirect=True)
async def test_postgres_outage_is_503_and_recovers_without_restart(make_app):
    async with relayed_app(make_app) as (client, relay):
        assert (await client.get("/explore")).status_code == 200
        await relay.stop()
        await check_unavailable(client)
        await relay.start()  # the database is back
        assert (await client.get("/explore")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.skipif("postgres" not in BACKENDS, reason="TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("empty_db", ["postgres"], indirect=True)
async def test_first_request_after_a_quiet_database_restart_succeeds(make_app):
    async with relayed_app(make_app) as (client, relay):
        assert (await client.get("/explore")).status_code == 200
        await relay.stop()  # the database restarts while nobody asks for anything
        await relay.start()
        assert (await client.get("/explore")).status_code == 200


@pytest.mark.skipif("postgres" not in BACKENDS, reason="TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("empty_db", ["postgres"], indirect=True)
@pytest.mark.parametrize("idle_ping", [0.0, 3600.0])
async def test_a_connection_idle_past_the_ping_time_is_pinged_before_use(
    make_app, monkeypatch, idle_ping
):
    """A pooled connection whose path died silently looks open: only a ping finds it out, so
    one that sat idle past IDLE_PING_SECONDS is pinged and replaced; a recently used one is
    not pinged (a request pays no round trip for it), and fails if it was dead."""
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", idle_ping)
    # The event hub's own reads and pings would meet the dead path first and clear the pool.
    monkeypatch.setattr(events_module, "PING_EVERY", 3600.0)
    monkeypatch.setattr(events_module, "POLL_SAFETY", 3600.0)
    async with relayed_app(make_app) as (client, relay):
        assert (await client.get("/explore")).status_code == 200
        relay.drop_silently()
        expected = 200 if idle_ping == 0 else 503
        assert (await client.get("/explore")).status_code == expected


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_sqlite_file_unusable_is_503_and_recovers(db, make_app, tmp_path):
    good = Path(make_url(db.url).database)
    path = tmp_path / "moved" / "warble.db"
    path.mkdir(parents=True)  # a directory where the database file should be
    client = Client((await make_app(DATABASE_URL=f"sqlite+aiosqlite:///{path}")).test_client())
    await check_unavailable(client)
    path.rmdir()
    shutil.copy(good, path)  # the file is back
    assert (await client.get("/explore")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_sqlite_many_concurrent_writers_all_succeed(db, app, make_client, make_user, session):
    writers = []
    for n in range(8):
        client = make_client()
        await client.login(await make_user(f"writer{n}"))
        writers.append(client)
    posts = [
        w.post("/posts", {"body": f"post {i} by {n}"})
        for n, w in enumerate(writers)
        for i in range(5)
    ]
    responses = await asyncio.gather(*posts)
    assert [r.status_code for r in responses] == [302] * 40
    assert await session.scalar(select(func.count()).select_from(Post)) == 40


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {seconds} s"
        time.sleep(0.02)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def test_sigterm_lets_an_in_flight_request_finish(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        **cheap_argon2_environ(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'warble.db'}",
        "SECRET_KEY": "shutdown test",
        "WARBLE_INSTANCE": str(tmp_path),
        "SECURE_COOKIES": "false",
    }
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hypercorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "10",
            "tests.slow_app:create()",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: answers(port), 30, "hypercorn answering")
        result: dict[str, object] = {}

        def fetch() -> None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/slow", timeout=20) as r:
                result["status"], result["body"] = r.status, r.read().decode()

        thread = threading.Thread(target=fetch)
        thread.start()
        wait_until((tmp_path / slow_app.STARTED).exists, 10, "GET /slow in flight")
        server.send_signal(signal.SIGTERM)
        thread.join(timeout=20)
        assert result == {"status": 200, "body": "finished"}
        assert server.wait(timeout=15) == 0
    finally:
        if server.poll() is None:
            server.kill()
