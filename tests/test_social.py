"""The domain: follows, the home timeline, and its query against the simple definition."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.events import TASK_NAME
from app.models import Follow, Post
from app.pagination import FIRST, Cursor
from app.queries import follows, timeline, users
from tests.conftest import PASSWORD_HASH

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def add_post(session, author, body: str, at: datetime) -> Post:
    post = Post(author_id=author.id, body=body, created_at=at)
    session.add(post)
    await session.flush()
    return post


async def timeline_bodies(session, user) -> list[str]:
    page = await timeline.home_timeline(session, user.id)
    return [item.post.body for item in page.items]


async def test_follow_is_idempotent_and_counted(session, make_user):
    john, susan = await make_user("john"), await make_user("susan")
    assert not await follows.is_following(session, john.id, susan.id)
    await follows.follow(session, john.id, susan.id)
    await follows.follow(session, john.id, susan.id)
    await session.commit()
    assert await follows.is_following(session, john.id, susan.id)
    assert not await follows.is_following(session, susan.id, john.id)
    edges = await session.scalar(select(func.count()).select_from(Follow))
    assert edges == 1
    assert await follows.follower_count(session, susan.id) == 1
    assert await follows.following_count(session, john.id) == 1
    assert await follows.follower_count(session, john.id) == 0

    await follows.unfollow(session, john.id, susan.id)
    await follows.unfollow(session, john.id, susan.id)
    await session.commit()
    assert not await follows.is_following(session, john.id, susan.id)
    assert await follows.follower_count(session, susan.id) == 0


async def test_home_timeline_seed_scenario(session, make_user):
    john, susan, mary, david = [await make_user(n) for n in ("john", "susan", "mary", "david")]
    await add_post(session, john, "p1", T0 + timedelta(seconds=1))
    await add_post(session, susan, "p2", T0 + timedelta(seconds=4))
    await add_post(session, mary, "p3", T0 + timedelta(seconds=3))
    await add_post(session, david, "p4", T0 + timedelta(seconds=2))
    for a, b in ((john, susan), (john, david), (susan, mary), (mary, david)):
        await follows.follow(session, a.id, b.id)
    await session.commit()

    assert await timeline_bodies(session, john) == ["p2", "p4", "p1"]
    assert await timeline_bodies(session, susan) == ["p2", "p3"]
    assert await timeline_bodies(session, mary) == ["p3", "p4"]
    assert await timeline_bodies(session, david) == ["p4"]

    await follows.unfollow(session, john.id, david.id)
    await session.commit()
    assert await timeline_bodies(session, john) == ["p2", "p1"]


async def walk(home, session, viewer_id: int) -> list[int]:
    """Every post id of a viewer's home timeline, page after page."""
    seen, cursor = [], FIRST
    while True:
        page = await home(session, viewer_id, cursor)
        seen += [item.post.id for item in page.items]
        if page.next is None:
            return seen
        cursor = page.next


@pytest.mark.parametrize("probe_max", [0, 10_000], ids=["scan", "probe"])
async def test_home_timeline_matches_the_plain_definition_on_random_data(
    session, make_user, monkeypatch, probe_max
):
    """Whichever plan is chosen, walking every page gives what the plain definition gives:
    exactly followed + own, newest first."""
    home = {dialect: timeline.PLANNERS[dialect](probe_max) for dialect in timeline.HOME}
    monkeypatch.setattr(timeline, "HOME", home)
    rng = random.Random(20261121)
    people = [
        await users.create_user(session, f"user{i}", f"u{i}@example.com", PASSWORD_HASH)
        for i in range(12)
    ]
    posts = []
    for n in range(150):
        at = T0 + timedelta(seconds=rng.randrange(90))  # many ties on time: id breaks them
        posts.append(await add_post(session, rng.choice(people), f"post {n}", at))
    for a in people:
        for b in rng.sample(people, rng.randrange(0, 6)):
            if a is not b:
                await follows.follow(session, a.id, b.id)
    await session.commit()

    for viewer in people:
        followed = {
            row
            for row in await session.scalars(
                select(Follow.followed_id).where(Follow.follower_id == viewer.id)
            )
        } | {viewer.id}
        expected = [
            p.id
            for p in sorted(posts, key=lambda p: (p.created_at, p.id), reverse=True)
            if p.author_id in followed
        ]
        assert await walk(timeline.home_timeline_plain, session, viewer.id) == expected
        assert await walk(timeline.home_timeline, session, viewer.id) == expected


async def test_cursor_round_trips(session):
    cursor = Cursor(T0 + timedelta(microseconds=123456), 42)
    from app.pagination import decode

    assert decode(cursor.encode()) == cursor
    assert decode(Cursor(None, 7).encode()) == Cursor(None, 7)


async def test_reads_on_postgres_skip_the_transaction(app, client, make_user):
    """Reads run in autocommit on PostgreSQL (no BEGIN/ROLLBACK), in a GET or in a POST that is
    rejected before it writes; writes get a transaction."""
    from sqlalchemy import event

    engine = app.app.extensions["db_engine"].sync_engine
    levels: list[str | None] = []

    def on_begin(connection) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name().startswith(TASK_NAME):
            return  # the live hub reads on its own schedule
        levels.append(connection.get_execution_options().get("isolation_level"))

    await client.login(await make_user("john"))
    await client.get("/")  # notes last_seen_at, in a write of its own: not again for 5 minutes
    event.listen(engine, "begin", on_begin)
    try:
        await client.get("/explore")
        reads = list(levels)
        await client.post("/posts", {"body": "a write"})
        writes = levels[len(reads) :]
        await client.post("/posts", {"body": "   "})  # rejected: it reads, it writes nothing
        rejected = levels[len(reads) + len(writes) :]
    finally:
        event.remove(engine, "begin", on_begin)
    expected = "AUTOCOMMIT" if engine.dialect.name == "postgresql" else None
    assert reads and set(reads) == {expected}
    assert writes[-1] is None  # the POST wrote in a real transaction
    assert rejected and set(rejected) == {expected}
