"""Suspension against real hypercorn processes on one database: the suspended user's cookie
stops working on the next request on either server, and their open /events stream ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import Database
from tests.live_client import Stream, post_form, request, sse_request
from tests.test_live_servers import Warble, make_logins, username_of


async def closed_by_server(stream: Stream, within: float) -> None:
    """Wait until the stream says `close` (then the server ends it) or simply ends."""
    async with asyncio.timeout(within):
        while True:
            line = await stream.reader.readline()
            if line == b"" or line.strip() == b"event: close":
                return


async def status_of(port: int, path: str, login) -> int:
    stream = await request(port, "GET", path, login)
    stream.close()
    return stream.status


@pytest.fixture
async def servers(db: Database, tmp_path: Path):
    running = [Warble(db, tmp_path / name) for name in ("a", "b")]
    try:
        await asyncio.gather(*(server.ready() for server in running))
        yield running
    finally:
        for server in running:
            server.stop()


async def test_a_suspended_users_cookie_and_stream_end_on_every_server(db, servers):
    a, b = servers
    (victim_id, victim), (moderator_id, moderator) = await make_logins(db, 2)
    engine = db.engine()
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE users SET role = 'moderator' WHERE id = :i"), {"i": moderator_id}
            )
    finally:
        await engine.dispose()
    name = await username_of(db, victim_id)
    for server in (a, b):
        assert await status_of(server.port, "/settings/profile", victim) == 200
    live = await sse_request(b.port, "/events?page=other", victim)
    try:
        assert await post_form(a.port, f"/admin/accounts/{name}/suspend", moderator) == 302
        await closed_by_server(live, within=5.0)
    finally:
        live.close()
    for server in (a, b):
        assert await status_of(server.port, "/settings/profile", victim) == 302
    assert await status_of(b.port, "/admin", moderator) == 200
