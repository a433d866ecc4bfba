"""Limits and timeouts against real servers: hypercorn processes, and a redis-server they share."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from app.config import from_environment
from tests.browser.server import BIN, Server, free_port
from tests.conftest import Client

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = Path("/usr/bin/redis-server")
LIMITS = {"RATE_LIMITS": "on", "RATE_LIMIT_AUTH": "5/minute", "RATE_LIMIT_LOGIN_USER": "5/minute"}


@dataclass
class LimitedServer(Server):
    """The browser tests' Warble, with rate limits on and settings of the test's own."""

    settings: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        return super().environ() | LIMITS | self.settings

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator:
    """`await start_server(**settings)`: a Warble on a free port, all of a test's on one SQLite
    file; stopped when the test ends."""
    servers: list[LimitedServer] = []

    async def start(**settings: str) -> LimitedServer:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        url = f"sqlite+aiosqlite:///{tmp_path / 'warble.db'}"
        server = LimitedServer("sqlite", url, None, folder, settings=settings)
        servers.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {seconds} s"
        time.sleep(0.02)


def redis_command(port: int, *words: str) -> bytes:
    """One command in Redis's protocol over a fresh connection; the raw reply."""
    wire = f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(word.encode())}\r\n{word}\r\n".encode() for word in words
    )
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(wire)
        return connection.recv(65536)


def redis_answers(port: int) -> bool:
    try:
        return redis_command(port, "PING") == b"+PONG\r\n"
    except OSError:
        return False


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """Debian's redis-server on a free loopback port, in its own folder, saving nothing.
    Without it the test is skipped, except under CI, where that is a failure."""
    if not REDIS_SERVER.exists():
        reason = f"{REDIS_SERVER} not found: install Debian's redis-server package"
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(f"{reason} (CI=true: the shared-store tests must run)", pytrace=False)
        pytest.skip(reason)
    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    server = subprocess.Popen(
        [str(REDIS_SERVER), *arguments, "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: redis_answers(port), 10, "redis-server answering")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- a bare HTTP/1.1 client: the tests need to hold a request between its headers and body ----


async def csrf_session(port: int) -> tuple[str, str]:
    """A session cookie and its CSRF token, as a browser gets them from the log-in page."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /login HTTP/1.1\r\nHost: warble\r\nConnection: close\r\n\r\n")
    response = (await reader.read()).decode()
    writer.close()
    cookie = re.search(r"(?im)^set-cookie: (warble_session=[^;]+)", response)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', response)
    assert cookie and token, response[:500]
    return cookie.group(1), token.group(1)


async def logins_at_once(ports: list[int], count: int) -> list[int]:
    """`count` failing log-ins from one address, spread over `ports`; their statuses, sorted.

    The CSRF token travels as a header, so nothing reads the body before the limiter does. All
    the requests' headers go first, then all the bodies: every request is in the servers' hands,
    waiting for its body, before any body arrives."""
    cookie, token = await csrf_session(ports[0])  # one SECRET_KEY: valid on every server
    connections = [
        await asyncio.open_connection("127.0.0.1", ports[n % len(ports)]) for n in range(count)
    ]
    bodies = [
        urlencode({"username": f"user{n}", "password": "wrong password"}).encode()
        for n in range(count)
    ]
    for (_, writer), body in zip(connections, bodies, strict=True):
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: warble\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {len(body)}\r\nCookie: {cookie}\r\nX-CSRF-Token: {token}\r\n\r\n".encode()
        )
        await writer.drain()
    for (_, writer), body in zip(connections, bodies, strict=True):
        writer.write(body)
        await writer.drain()
    async with asyncio.timeout(60):
        responses = [await reader.read() for reader, _ in connections]
    for _, writer in connections:
        writer.close()
    return sorted(int(response.split(b" ", 2)[1]) for response in responses)


# -- concurrent requests -------------------------------------------------------------------


async def test_concurrent_logins_to_hypercorn_pass_at_most_the_limit(start_server):
    server = await start_server()
    assert await logins_at_once([server.port], 40) == [422] * 5 + [429] * 35


# -- one count for every process, in Redis -------------------------------------------------


async def test_two_processes_sharing_redis_hold_one_limit(start_server, redis_port):
    store = f"redis://127.0.0.1:{redis_port}/0"
    first = await start_server(RATE_LIMIT_STORE=store)
    second = await start_server(RATE_LIMIT_STORE=store)
    assert await logins_at_once([first.port, second.port], 40) == [422] * 5 + [429] * 35


async def test_redis_entries_expire_when_their_time_has_passed(make_app, redis_port):
    app = await make_app(RATE_LIMITS=True, RATE_LIMIT_STORE=f"redis://127.0.0.1:{redis_port}/0")
    client = Client(app.test_client())
    assert (await client.post("/login", {"username": "john", "password": "x"})).status_code == 422
    keys = redis_command(redis_port, "KEYS", "*").decode().split("\r\n")[2::2]
    assert len(keys) == 2  # the address's budget and the username's
    for key in keys:  # 10/minute: each attempt is forgotten 6 s later
        ttl = int(redis_command(redis_port, "PTTL", key)[1:])
        assert 5000 < ttl <= 6001


async def test_redis_shared_by_two_apps_counts_once(make_app, redis_port):
    settings = {"RATE_LIMITS": True, "RATE_LIMIT_AUTH": "3/minute"}
    store = f"redis://127.0.0.1:{redis_port}/0"
    first = Client((await make_app(**settings, RATE_LIMIT_STORE=store)).test_client())
    second = Client((await make_app(**settings, RATE_LIMIT_STORE=store)).test_client())
    form = {"username": "john", "password": "wrong password"}
    statuses = [(await first.post("/login", form)).status_code for _ in range(3)]
    statuses.append((await second.post("/login", form)).status_code)
    assert statuses == [422, 422, 422, 429]


async def test_unreachable_redis_makes_limited_forms_503_and_pages_work(make_app):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    client = Client((await make_app(RATE_LIMITS=True, RATE_LIMIT_STORE=nowhere)).test_client())
    refused = await client.post("/login", {"username": "john", "password": "x"})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert (await client.get("/login")).status_code == 200


# -- bodies must arrive in time -------------------------------------------------------------


async def wait_until_serving(port: int, seconds: float = 30) -> None:
    """Until a worker answers a page: the socket listens before the worker is ready."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await csrf_session(port)
            return
        except (OSError, AssertionError):
            assert time.monotonic() < deadline, f"nothing answers on {port} after {seconds} s"
            await asyncio.sleep(0.05)


async def exchange(port: int, head: bytes, body: bytes = b"", every: float = 0) -> bytes:
    """Send `head`, then `body` a byte every `every` seconds (never, if 0); all that comes back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()

    async def trickle() -> None:
        for byte in body:
            await asyncio.sleep(every)
            writer.write(bytes([byte]))
            await writer.drain()

    trickling = asyncio.create_task(trickle()) if every else None
    try:
        return await reader.read()
    finally:
        if trickling:
            trickling.cancel()
        writer.close()


def test_bodies_get_ten_seconds_by_default(monkeypatch):
    monkeypatch.delenv("BODY_TIMEOUT", raising=False)
    assert from_environment()["BODY_TIMEOUT"] == 10


async def test_a_stalled_or_trickled_body_is_answered_408_within_the_body_timeout(tmp_path):
    """hypercorn with the shipped hypercorn.toml and BODY_TIMEOUT=1: headers that promise a
    body, then nothing (or a byte at a time), get 408 and a closed connection when the second
    is up; a response that takes longer than that still arrives (nothing cuts a silent client,
    which is what a live stream is)."""
    port = free_port()
    env = Server("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", None, tmp_path).environ()
    server = await asyncio.create_subprocess_exec(
        *[str(BIN / "hypercorn"), "--config", str(ROOT / "hypercorn.toml")],
        *["--bind", f"127.0.0.1:{port}", "--workers", "1", "tests.slow_app:create()"],
        env=env | {"BODY_TIMEOUT": "1"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_until_serving(port)
        head = (
            b"POST /login HTTP/1.1\r\nHost: warble\r\nContent-Length: 100\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        slow = b"GET /slow?seconds=2 HTTP/1.1\r\nHost: warble\r\nConnection: close\r\n\r\n"
        started = time.monotonic()
        async with asyncio.timeout(20):
            stalled, trickled, slow_answer = await asyncio.gather(
                exchange(port, head),
                exchange(port, head, b"u" * 100, every=0.1),
                exchange(port, slow),
            )
        took = time.monotonic() - started
    finally:
        server.terminate()
        await server.wait()
    assert stalled.startswith(b"HTTP/1.1 408 ")  # and then closed: read() saw the end
    assert trickled.startswith(b"HTTP/1.1 408 ")
    assert slow_answer.startswith(b"HTTP/1.1 200 ") and slow_answer.endswith(b"finished")
    assert took < 5
