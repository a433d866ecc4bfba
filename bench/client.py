"""The soak's browsers: a small HTTP/1.1 client that keeps its cookies and its page's CSRF
token, and an event stream that reconnects with Last-Event-ID as a browser's EventSource does.

Each request is one connection (`Connection: close`): a soak client that sends a request every
few seconds would find hypercorn's 5-second keep-alive closed anyway. Loopback only.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

TIMEOUT = 30.0  # seconds a request may take before it counts as failed
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Answer:
    status: int  # 0: no answer (the connection failed, broke or timed out)
    body: str
    started: float  # time.monotonic()
    ended: float
    location: str = ""


@dataclass
class Browser:
    """One logged-in reader: its cookies, and the CSRF token of the last page it loaded."""

    port: int
    user_id: int
    username: str
    cookies: dict[str, str]
    csrf: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one thing at a time, as a person

    def _head(self, method: str, path: str, htmx: bool, length: int) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Connection: close"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if htmx:  # what static/app.js and htmx add to every request they make
            lines += ["HX-Request: true", f"X-CSRF-Token: {self.csrf}"]
        if method == "POST":
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {length}",
            ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def fetch(
        self, method: str, path: str, form: dict[str, str] | None = None, htmx: bool = False
    ) -> Answer:
        """One request; its cookies are kept, and a page's CSRF token (as a browser keeps
        the page it shows). Never raises for a network failure: status 0 says so."""
        body = urlencode(form or {}).encode()
        started = time.monotonic()
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(self._head(method, path, htmx, len(body)) + body)
                    raw = await reader.read()
                finally:
                    writer.close()
        except (OSError, TimeoutError):
            return Answer(0, "", started, time.monotonic())
        ended = time.monotonic()
        head, _, content = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 "):
            return Answer(0, "", started, ended)
        headers = [line.split(":", 1) for line in lines[1:] if ":" in line]
        chunked = False
        location = ""
        for name, value in headers:
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._keep_cookie(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "location":
                location = value
        text = (dechunk(content) if chunked else content).decode(errors="replace")
        if found := META_CSRF.search(text):
            self.csrf = found[1]
        return Answer(int(lines[0].split()[1]), text, started, ended, location)

    def _keep_cookie(self, header: str) -> None:
        name, _, value = header.split(";", 1)[0].partition("=")
        expired = "expires=thu, 01 jan 1970" in header.lower() or "max-age=0" in header.lower()
        if value and not expired:
            self.cookies[name.strip()] = value.strip()
        else:
            self.cookies.pop(name.strip(), None)


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


@dataclass
class EventStream:
    """GET /events for one browser, for as long as the soak runs: every message's id and name
    is kept. A dropped stream comes back after the `retry:` the server asked for (2 s), with
    the Last-Event-ID of the last message, as EventSource does; a refused one (a 503 while the
    database is away) is tried again with a doubling delay, as htmx-ext-sse does."""

    port: int
    cookies: dict[str, str]
    path: str
    received: dict[int, str] = field(default_factory=dict)  # event id -> event name
    duplicates: int = 0
    connects: int = 0  # streams that answered 200; beyond the first, reconnections
    drops: int = 0  # an open stream that ended without a `close` message
    refusals: int = 0  # attempts that got no 200
    closed: bool = False  # the server said `close` (the session ended): it would not come back
    last_id: int | None = None
    retry: float = 2.0
    open: bool = False
    silence: float = 0.0  # the longest wait for anything on an open stream (seconds)
    writer: asyncio.StreamWriter | None = None

    def cut(self) -> None:
        """Drop the connection, as a network blip or a reloaded page does: it comes back."""
        if self.writer is not None:
            self.writer.close()

    async def run(self) -> None:
        failures = 0
        while not self.closed:
            try:
                if await self._once():
                    failures = 0
                    self.drops += not self.closed
                else:
                    failures += 1
                    self.refusals += 1
            except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
                failures += 1
                self.refusals += 1
            finally:
                self.open = False
            if not self.closed:
                await asyncio.sleep(min(30.0, self.retry * 2 ** max(0, failures - 1)))

    async def _once(self) -> bool:
        """One connection, read until it ends; False when it was not a 200 stream."""
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        try:
            headers = [
                f"GET {self.path} HTTP/1.1",
                f"Host: 127.0.0.1:{self.port}",
                "Accept: text/event-stream",
                "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            ]
            if self.last_id is not None:
                headers.append(f"Last-Event-ID: {self.last_id}")
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
            async with asyncio.timeout(TIMEOUT):
                status = int((await reader.readline()).split()[1])
                chunked = False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    chunked |= line.lower().startswith(b"transfer-encoding: chunked")
            if status != 200:
                return False
            self.connects += 1
            self.open = True
            # A broken connection is a drop, as an ended one is.
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                await self._read(reader, chunked)
            return True
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        """Dispatch each message (its lines, then a blank one). Like EventSource, no silence
        ends it; the longest one is kept (the server means to send a heartbeat every 20 s)."""
        pending = ""
        event_id: int | None = None
        name = ""
        heard = time.monotonic()
        async for piece in _pieces(reader, chunked):
            self.silence = max(self.silence, time.monotonic() - heard)
            heard = time.monotonic()
            pending += piece
            *lines, pending = pending.split("\n")
            for line in lines:
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("retry: "):
                    self.retry = int(line[7:]) / 1000
                elif line == "":
                    if name == "close":
                        self.closed = True
                        return
                    if event_id is not None and name:
                        self._dispatch(event_id, name)
                    elif event_id is not None:  # an id alone (the heartbeat's): no event
                        self.last_id = event_id
                    event_id, name = None, ""

    def _dispatch(self, event_id: int, name: str) -> None:
        self.last_id = event_id
        if event_id in self.received:
            self.duplicates += 1
        self.received[event_id] = name


async def _pieces(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[str]:
    """The body's text as it arrives, chunked transfer encoding undone; ends at its end."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        if chunked:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = (await reader.readexactly(size + 2))[:-2]
        else:
            data = await reader.read(65536)
            if not data:
                return
        yield decoder.decode(data)
