"""Limits against real servers: hypercorn processes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser.server import Server

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
