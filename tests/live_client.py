"""A raw HTTP/1.1 client for live-stream tests and benchmarks: signed cookies of a session made
in the database, form posts, and Server-Sent Events read line by line; and the hypercorn
process such tests talk to."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import time
from urllib.parse import urlencode

from quart import Quart

from app import create_app

CSRF = "live-client-csrf"


@functools.cache
def _signer(secret: str) -> Quart:
    """An app that signs as the server does; one per secret (bench/streams.py makes 5,000)."""
    return create_app({"SECRET_KEY": secret, "DATABASE_URL": "sqlite+aiosqlite://"})


class Hypercorn:
    """A hypercorn process on a free loopback port; a subclass starts it as its test needs."""

    port: int
    process: subprocess.Popen[bytes]

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
        """SIGTERM, so that hypercorn stops its workers too; a SIGKILL to the parent alone
        would leave them running for the rest of the test session. Then SIGKILL to the whole
        process group (subclasses start hypercorn in a session of its own) if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Login:
    """Cookies naming a session token, signed with the server's SECRET_KEY as it signs them."""

    def __init__(self, token: str, secret: str) -> None:
        signer = _signer(secret)
        auth = signer.extensions["QUART_AUTH"][0].dump_token(token, signer)
        serializer = signer.session_interface.get_signing_serializer(signer)
        assert serializer is not None
        self.cookie = f"warble_auth={auth}; warble_session={serializer.dumps({'csrf': CSRF})}"


class Stream:
    """An open response; for /events, read message by message."""

    def __init__(
        self, status: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.status, self.reader, self.writer = status, reader, writer

    async def next_event(self, name: str, within: float) -> float:
        """Wait for the next message called `name`; returns when it arrived (perf_counter)."""
        async with asyncio.timeout(within):
            current = None
            while True:
                line = (await self.reader.readline()).decode().strip()
                if line.startswith("event: "):
                    current = line[len("event: ") :]
                elif line.startswith("data: ") and current == name:
                    self.data = line[len("data: ") :]
                    return time.perf_counter()

    def close(self) -> None:
        self.writer.close()


async def request(
    port: int, method: str, path: str, login: Login, form: dict[str, str] | None = None
) -> Stream:
    """Send one request; returns once its status line and headers are read."""
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
    return Stream(status, reader, writer)


async def sse_request(port: int, path: str, login: Login) -> Stream:
    stream = await request(port, "GET", path, login)
    assert stream.status == 200, stream.status
    return stream


async def post_form(port: int, path: str, login: Login, form: dict[str, str] | None = None) -> int:
    stream = await request(port, "POST", path, login, {"csrf_token": CSRF, **(form or {})})
    stream.close()
    return stream.status
