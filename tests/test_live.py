"""The live stream, in one process: what each page hears, replay after Last-Event-ID, limits.

Streams across processes (two hypercorn workers on one database), listener loss and shutdown
are in test_live_servers.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.blueprints import live
from app.clock import utcnow
from app.events import MAX_STREAMS_PER_USER, hub_of
from app.models import Base, UserSession
from app.queries import events
from tests.conftest import Client, Database
from tests.test_timeline import StatementCounter

DEADLINE = 5.0  # seconds; the SQLite hub reads every 0.1 s


class Stream:
    """An open /events response, read message by message."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.buffer = b""

    async def message(self, name: str, within: float = DEADLINE) -> dict[str, str]:
        """The next message of this event name (others are skipped)."""
        async with asyncio.timeout(within):
            while True:
                while b"\n\n" not in self.buffer:
                    self.buffer += await self.connection.receive()
                raw, self.buffer = self.buffer.split(b"\n\n", 1)
                fields: dict[str, str] = {}
                for line in raw.decode().splitlines():
                    key, _, value = line.partition(": ")
                    if key == "data" and "data" in fields:
                        fields["data"] += "\n" + value
                    else:
                        fields[key] = value
                if fields.get("event") == name:
                    return fields

    async def heartbeat(self, within: float) -> str | None:
        """The next SSE comment (`: heartbeat`) arrives within `within` seconds; the id it
        carries, if any."""
        async with asyncio.timeout(within):
            while True:
                while b"\n\n" not in self.buffer:
                    self.buffer += await self.connection.receive()
                raw, self.buffer = self.buffer.split(b"\n\n", 1)
                if raw.startswith(b":"):
                    ids = [line[4:] for line in raw.decode().splitlines() if line[:4] == "id: "]
                    return ids[0] if ids else None

    async def nothing(self, name: str, wait: float = 1.0) -> None:
        """No message of this name arrives within `wait` seconds (ten SQLite polls)."""
        with pytest.raises(TimeoutError):
            await self.message(name, wait)


@asynccontextmanager
async def stream(client: Client, query: str = "page=other", headers: dict | None = None):
    async with client.raw.request(f"/events?{query}", headers=headers or {}) as connection:
        await connection.send_complete()
        yield Stream(connection)
        await connection.disconnect()


async def test_a_follow_reaches_the_followed_users_open_page_as_a_count(make_client, make_user):
    alice, bob = await make_user("alice"), await make_user("bob")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(alices) as live:
        await bobs.post("/user/alice/follow")
        message = await live.message("count")
        assert 'id="notifications-count"' in message["data"]
        assert ">1</span>" in message["data"]
        assert message["id"].isdigit()
        await alices.get("/notifications")  # read: the count clears
        cleared = await live.message("count")
        assert "hidden" in cleared["data"]


async def test_home_hears_posts_of_followed_people_only(make_client, make_user):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    alices, bobs, carols = make_client(), make_client(), make_client()
    for client, user in ((alices, alice), (bobs, bob), (carols, carol)):
        await client.login(user)
    await alices.post("/user/bob/follow")
    async with stream(alices, "page=home") as live:
        await carols.post("/posts", {"body": "not for alice"})
        await bobs.post("/posts", {"body": "for alice"})
        message = await live.message("new-post")
        bob_post = json.loads(message["data"])["id"]
        page = await alices.get(f"/?since={_cursor_before(bob_post)}", htmx=True)
        html = (await page.get_data()).decode()
        assert "for alice" in html and "not for alice" not in html
        await alices.post("/posts", {"body": "alice's own"})
        await live.nothing("new-post")


def _cursor_before(_post_id: int) -> str:
    return "0.0"  # the beginning of time: every post is newer


async def test_a_post_page_hears_new_and_deleted_comments(make_client, make_user, make_post):
    alice, bob = await make_user("alice"), await make_user("bob")
    post = await make_post(alice, "talk to me")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(alices, f"page=post&id={post.id}") as live:
        await bobs.post(f"/posts/{post.id}/comments", {"body": "a live comment"})
        message = await live.message("comment")
        assert '<li class="comment"' in message["data"] and "a live comment" in message["data"]
        assert f'id="comment-count-{post.id}" hx-swap-oob="true">1 comment' in message["data"]
        assert ">Delete</a>" in message["data"]  # alice may delete comments on her post
        comment_id = message["data"].split('id="comment-', 1)[1].split('"', 1)[0]
        await bobs.post(f"/comments/{comment_id}/delete")
        gone = await live.message("comment-gone")
        assert f'<li id="comment-{comment_id}" hx-swap-oob="delete"></li>' in gone["data"]
        assert "0 comments" in gone["data"]


async def statements_to_reach(
    app, readers: list[Client], post_id: int, act: Any, heard: list[tuple[str, str]]
) -> int:
    """The statements a change costs, from `act()` until every reader's open page of the post
    has heard each (event, text) of `heard`: what Hub.load_once keeps from growing."""
    counter = StatementCounter()
    engine = app.app.extensions["db_engine"].sync_engine
    async with AsyncExitStack() as open_streams:
        lives = [
            await open_streams.enter_async_context(stream(c, f"page=post&id={post_id}"))
            for c in readers
        ]
        for live in lives:  # the stream's own reads are done once its first line is sent
            live.buffer += await live.connection.receive()
        event.listen(engine, "before_cursor_execute", counter)
        try:
            await act()
            for live in lives:
                for name, expected in heard:
                    assert expected in (await live.message(name))["data"]
        finally:
            event.remove(engine, "before_cursor_execute", counter)
    return counter.count


async def test_a_comment_is_read_once_however_many_streams_show_its_post(
    app, make_client, make_user, make_post
):
    """Every reader of a post hears a new comment; its rows are read once per worker for all
    of them (Hub.load_once), so a popular post costs what a quiet one does."""
    author, commenter = await make_user("alice"), await make_user("bob")
    post = await make_post(author, "a popular post")
    bobs = make_client()
    await bobs.login(commenter)
    await bobs.get("/")  # the first request of a login also notes last_seen_at
    readers = []
    for n in range(3):
        client = make_client()
        await client.login(await make_user(f"reader{n}"))
        readers.append(client)

    def comment(body: str) -> Any:
        return lambda: bobs.post(f"/posts/{post.id}/comments", {"body": body})

    one = await statements_to_reach(
        app, readers[:1], post.id, comment("for one"), [("comment", "for one")]
    )
    three = await statements_to_reach(
        app, readers, post.id, comment("for three"), [("comment", "for three")]
    )
    assert one == three


async def test_a_post_page_hears_its_like_count_but_not_anyones_pressed_button(
    make_client, make_user, make_post
):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    post = await make_post(alice, "like me live")
    alices, bobs, carols = make_client(), make_client(), make_client()
    for client, user in ((alices, alice), (bobs, bob), (carols, carol)):
        await client.login(user)
    async with stream(carols, f"page=post&id={post.id}") as live:
        await bobs.post(f"/posts/{post.id}/like")
        liked = await live.message("likes")
        assert liked["data"] == (
            f'<a class="like-count" id="like-count-{post.id}" href="/posts/{post.id}/likes" '
            'hx-swap-oob="true">1 like</a>'
        )
        await alices.post(f"/posts/{post.id}/like")
        assert ">2 likes</a>" in (await live.message("likes"))["data"]
        await bobs.post(f"/posts/{post.id}/unlike")
        assert ">1 like</a>" in (await live.message("likes"))["data"]
        await bobs.post(f"/posts/{post.id}/unlike")  # nothing to take back: no event
        await carols.post(f"/posts/{post.id}/like")  # carol's own page changed as she did it
        await live.nothing("likes")


async def test_a_post_page_hears_its_authors_edit(make_client, make_user, make_post):
    alice, bob = await make_user("alice"), await make_user("bob")
    post = await make_post(alice, "first words")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(bobs, f"page=post&id={post.id}") as live:
        await alices.post(f"/posts/{post.id}/edit", {"body": "better words for @bob"})
        edited = (await live.message("edit"))["data"]
        assert f'<p class="post-body" id="post-{post.id}-body" hx-swap-oob="true">' in edited
        assert 'better words for <a class="mention" href="/user/bob">@bob</a>' in edited
        assert (
            f'<span id="post-{post.id}-edited" hx-swap-oob="true"> · <a class="edited" ' in edited
        )
        assert f'href="/posts/{post.id}/history">edited <time' in edited
        assert f'<span id="post-{post.id}-start" hidden hx-swap-oob="true">better' in edited
    async with stream(alices, f"page=post&id={post.id}") as own:
        await alices.post(f"/posts/{post.id}/edit", {"body": "her own page has it already"})
        await own.nothing("edit")


async def test_a_like_and_an_edit_are_read_once_however_many_streams_show_the_post(
    app, make_client, make_user, make_post
):
    alice = await make_user("alice")
    post = await make_post(alice, "a popular post")
    alices, bobs, carols = make_client(), make_client(), make_client()
    for client, user in (
        (alices, alice),
        (bobs, await make_user("bob")),
        (carols, await make_user("carol")),
    ):
        await client.login(user)
        await client.get("/")  # the first request of a login also notes last_seen_at
    readers = []
    for n in range(3):
        client = make_client()
        await client.login(await make_user(f"reader{n}"))
        readers.append(client)

    def like_and_edit(liker: Client, body: str) -> Any:
        async def act() -> None:
            await liker.post(f"/posts/{post.id}/like")
            await alices.post(f"/posts/{post.id}/edit", {"body": body})

        return act

    heard = [("likes", "like"), ("edit", "for one")]
    one = await statements_to_reach(
        app, readers[:1], post.id, like_and_edit(bobs, "for one"), heard
    )
    heard = [("likes", "like"), ("edit", "for three")]
    three = await statements_to_reach(
        app, readers, post.id, like_and_edit(carols, "for three"), heard
    )
    assert one == three


async def test_a_profile_hears_its_follower_count(make_client, make_user):
    alice, bob = await make_user("alice"), await make_user("bob")
    bobs = make_client()
    await bobs.login(bob)
    async with stream(bobs, f"page=profile&id={alice.id}") as live:
        await bobs.post("/user/alice/follow")
        message = await live.message("followers")
        assert message["data"] == '<strong id="followers-count" hx-swap-oob="true">1</strong>'


async def test_a_reconnecting_stream_gets_what_it_missed_after_last_event_id(
    make_client, make_user
):
    alice, bob = await make_user("alice"), await make_user("bob")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(alices) as live:
        await bobs.post("/user/alice/follow")
        seen = (await live.message("count"))["id"]
    await bobs.post("/user/alice/unfollow")  # while alice's page was not connected
    async with stream(alices, headers={"Last-Event-ID": seen}) as live:
        message = await live.message("count")
        assert int(message["id"]) > int(seen) and "hidden" in message["data"]


async def test_a_page_far_behind_gets_every_event_it_missed(
    app, make_client, make_user, session, monkeypatch
):
    """The replay reads batch after batch: what came after the first batch is not lost."""
    monkeypatch.setattr(live, "REPLAY_BATCH", 2)
    alice, bob = await make_user("alice"), await make_user("bob")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(alices) as live_page:
        await bobs.post("/user/alice/follow")
        seen = (await live_page.message("count"))["id"]
    for n in range(5):  # while alice's page was away: events that mean nothing to it
        await bobs.post("/posts", {"body": f"passing by {n}"})
    await bobs.post("/user/alice/unfollow")
    await _hub_caught_up(app, session)  # the count comes from the replay, not the hub
    async with stream(alices, headers={"Last-Event-ID": seen}) as live_page:
        message = await live_page.message("count")
        assert int(message["id"]) > int(seen) + 5 and "hidden" in message["data"]


async def _newest_event_id(session) -> int:
    await session.rollback()  # a fresh snapshot
    return await events.last_id(session)


async def _hub_caught_up(app, session) -> None:
    newest = await _newest_event_id(session)
    async with asyncio.timeout(DEADLINE):
        while (hub_of(app.app).last_id or 0) < newest:  # noqa: ASYNC110 (the hub's own pace)
            await asyncio.sleep(0.05)


async def test_the_heartbeat_keeps_a_quiet_pages_last_event_id_recent(
    make_client, make_user, session, monkeypatch
):
    """A page that hears nothing still moves its Last-Event-ID past what went by (an id
    without data), so that a reconnection replays seconds, not the whole day."""
    monkeypatch.setattr(live, "HEARTBEAT", 0.5)
    alice, bob = await make_user("alice"), await make_user("bob")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(alices, "page=home") as quiet:
        assert await quiet.heartbeat(within=3) is None  # nothing has gone by yet
        await bobs.post("/posts", {"body": "alice does not follow bob"})
        newest = await _newest_event_id(session)
        async with asyncio.timeout(DEADLINE):
            while (position := await quiet.heartbeat(within=3)) is None:
                pass
        assert int(position) == newest
        assert await quiet.heartbeat(within=3) is None  # told once: nothing new since
    await bobs.post("/user/alice/follow")
    async with stream(alices, "page=home", headers={"Last-Event-ID": position}) as back:
        message = await back.message("count")
        assert int(message["id"]) > newest


async def test_logging_out_ends_the_stream_of_that_session(make_client, make_user):
    alice = await make_user("alice")
    alices = make_client()
    await alices.login(alice)
    async with alices.raw.request("/events") as connection:
        await connection.send_complete()
        await alices.post("/logout")
        received = b""
        async with asyncio.timeout(DEADLINE):
            while (part := await connection.receive()) != b"":  # the last part is empty: ended
                received += part
        assert received.endswith(b"event: close\ndata: \n\n")


async def test_a_session_that_expires_ends_its_streams_at_the_hubs_next_check(
    app, db, make_client, make_user
):
    """Expiry sends no event: the hub checks every stream's session (one query for all of
    them, every CHECK_SESSIONS_EVERY seconds) and tells the pages of ended ones to stop."""
    alice, bob = await make_user("alice"), await make_user("bob")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    hub = hub_of(app.app)
    async with alices.raw.request("/events") as ending, bobs.raw.request("/events") as going_on:
        for connection in (ending, going_on):
            await connection.send_complete()
            await connection.receive()  # the stream has started
        engine = db.engine()
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(UserSession)
                    .where(UserSession.user_id == alice.id)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            await engine.dispose()
        await hub.end_streams_of_ended_sessions()
        received = b""
        async with asyncio.timeout(DEADLINE):
            while (part := await ending.receive()) != b"":  # the last part is empty: ended
                received += part
        assert received.endswith(b"event: close\ndata: \n\n")
        assert [s.user_id for streams in hub.subscribers.values() for s in streams] == [bob.id]
        await going_on.disconnect()


async def test_a_user_keeps_at_most_eight_streams(app, make_client, make_user):
    alice = await make_user("alice")
    clients = [make_client() for _ in range(MAX_STREAMS_PER_USER + 1)]
    for client in clients:
        await client.login(alice)
    hub = hub_of(app.app)
    opened = []
    try:
        for client in clients:
            connection = client.raw.request("/events")
            opened.append(await connection.__aenter__())
            await opened[-1].send_complete()
            await opened[-1].receive()  # the stream has started
        assert hub.stream_count == MAX_STREAMS_PER_USER
    finally:
        for connection in opened:
            await connection.disconnect()


async def test_without_a_session_the_stream_tells_the_page_to_stop_listening(client):
    response = await client.get("/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert await response.get_data() == b"event: close\ndata: \n\n"


async def test_a_stream_cancelled_as_an_event_arrives_ends(app, make_user):
    """A disconnect cancels the stream's task; an event handed over in the same moment must
    not swallow that cancellation (asyncio.wait_for did on Python 3.11: the stream then
    outlived its page, and the test client waited for it for ever)."""
    from app.blueprints.live import _events
    from app.events import Subscriber
    from app.models import Event

    alice = await make_user("alice")
    subscriber = Subscriber(user_id=alice.id, session_id=1, page="other")
    async with app.app.test_request_context("/events"):
        stream = _events(alice, subscriber, 0, "token")
        assert await anext(stream) == b"retry: 2000\n\n"
        waiting = asyncio.ensure_future(anext(stream))
        for _ in range(3):  # until the stream waits on its queue
            await asyncio.sleep(0)
        assert not waiting.done()
        # An event nothing on this page shows, and the disconnect, at once.
        subscriber.queue.put_nowait(Event(id=1, kind="post", actor_id=alice.id, post_id=1))
        waiting.cancel()
        await asyncio.wait({waiting}, timeout=DEADLINE)
        assert waiting.cancelled()  # not still waiting for the next event
        await stream.aclose()


async def test_a_stream_that_events_pass_by_still_sends_its_heartbeat(
    make_client, make_user, monkeypatch
):
    """A heartbeat goes out after HEARTBEAT seconds without a message to the page, however
    many events meant nothing to it meanwhile: a proxy must never see the stream idle."""
    monkeypatch.setattr(live, "HEARTBEAT", 1.0)
    alice, bob = await make_user("alice"), await make_user("bob")
    alices, bobs = make_client(), make_client()
    await alices.login(alice)
    await bobs.login(bob)
    async with stream(alices) as quiet:
        await quiet.heartbeat(within=3)  # the first, with nothing going on

        async def chatter() -> None:  # bob posts every 0.3 s: nothing for alice's page
            for n in range(20):
                await bobs.post("/posts", {"body": f"passing by {n}"})
                await asyncio.sleep(0.3)

        chatting = asyncio.create_task(chatter())
        try:
            await quiet.heartbeat(within=2.5)
        finally:
            chatting.cancel()


async def test_a_warble_in_another_schema_of_the_database_does_not_wake_this_one(
    app, db, make_client, make_user
):
    """Two Warbles may share a PostgreSQL database in two schemas (DATABASE_SCHEMA): each
    listens on its own schema's channel, so one's events do not wake the other's hub."""
    if db.backend != "postgres":
        pytest.skip("SQLite's workers read their own file's events table; no channel")
    other = Database("postgres", db.url, f"test_{uuid.uuid4().hex[:16]}")
    engine = other.engine()
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{other.schema}"'))
        await connection.run_sync(Base.metadata.create_all)
    try:
        client = make_client()
        await client.login(await make_user("alice"))
        async with stream(client):  # the hub and its listener run while a stream is open
            hub = hub_of(app.app)
            async with asyncio.timeout(DEADLINE):
                while hub.listener is None:  # noqa: ASYNC110 (the hub's own pace)
                    await asyncio.sleep(0.05)
            # From here only a NOTIFY wakes the hub (its listener calls wake.set()).
            wakes: list[None] = []
            wake = hub.wake.set
            hub.wake.set = lambda: (wakes.append(None), wake())[-1]  # type: ignore[method-assign]
            async with async_sessionmaker(engine)() as theirs:
                await events.publish(theirs, "post", actor_id=1, post_id=1)
                await theirs.commit()
            await asyncio.sleep(0.5)
            assert wakes == []
            async with app.app.extensions["db_writer"]() as session:  # the control: our own
                await events.publish(session, "post", actor_id=1, post_id=1)
                await session.commit()
            async with asyncio.timeout(DEADLINE):
                while not wakes:  # noqa: ASYNC110 (the hub's own pace)
                    await asyncio.sleep(0.05)
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{other.schema}" CASCADE'))
        await engine.dispose()
