"""The domain: follows, the home timeline, and its query against the simple definition."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import queries
from app.models import Follow, Post
from app.pagination import Cursor
from tests.conftest import PASSWORD_HASH

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def add_post(session, author, body: str, at: datetime) -> Post:
    post = Post(author_id=author.id, body=body, created_at=at)
    session.add(post)
    await session.flush()
    return post


async def timeline_bodies(session, user) -> list[str]:
    page = await queries.home_timeline(session, user.id)
    return [item.post.body for item in page.items]


async def test_follow_is_idempotent_and_counted(session, make_user):
    john, susan = await make_user("john"), await make_user("susan")
    assert not await queries.is_following(session, john.id, susan.id)
    await queries.follow(session, john.id, susan.id)
    await queries.follow(session, john.id, susan.id)
    await session.commit()
    assert await queries.is_following(session, john.id, susan.id)
    assert not await queries.is_following(session, susan.id, john.id)
    edges = await session.scalar(select(func.count()).select_from(Follow))
    assert edges == 1
    assert await queries.follower_count(session, susan.id) == 1
    assert await queries.following_count(session, john.id) == 1
    assert await queries.follower_count(session, john.id) == 0

    await queries.unfollow(session, john.id, susan.id)
    await queries.unfollow(session, john.id, susan.id)
    await session.commit()
    assert not await queries.is_following(session, john.id, susan.id)
    assert await queries.follower_count(session, susan.id) == 0


async def test_home_timeline_seed_scenario(session, make_user):
    john, susan, mary, david = [await make_user(n) for n in ("john", "susan", "mary", "david")]
    await add_post(session, john, "p1", T0 + timedelta(seconds=1))
    await add_post(session, susan, "p2", T0 + timedelta(seconds=4))
    await add_post(session, mary, "p3", T0 + timedelta(seconds=3))
    await add_post(session, david, "p4", T0 + timedelta(seconds=2))
    for a, b in ((john, susan), (john, david), (susan, mary), (mary, david)):
        await queries.follow(session, a.id, b.id)
    await session.commit()

    assert await timeline_bodies(session, john) == ["p2", "p4", "p1"]
    assert await timeline_bodies(session, susan) == ["p2", "p3"]
    assert await timeline_bodies(session, mary) == ["p3", "p4"]
    assert await timeline_bodies(session, david) == ["p4"]

    await queries.unfollow(session, john.id, david.id)
    await session.commit()
    assert await timeline_bodies(session, john) == ["p2", "p1"]


@pytest.mark.parametrize("probe_max", [0, 10_000], ids=["scan", "probe"])
async def test_home_timeline_matches_the_simple_definition_on_random_data(
    session, make_user, monkeypatch, probe_max
):
    """Whichever plan is chosen, walking every page gives exactly followed + own, newest first."""
    home = {dialect: queries.home_statement(dialect, probe_max) for dialect in queries.HOME}
    monkeypatch.setattr(queries, "HOME", home)
    rng = random.Random(20261121)
    users = [
        await queries.create_user(session, f"user{i}", f"u{i}@example.com", PASSWORD_HASH)
        for i in range(12)
    ]
    posts = []
    for n in range(150):
        at = T0 + timedelta(seconds=rng.randrange(90))  # many ties on time: id breaks them
        posts.append(await add_post(session, rng.choice(users), f"post {n}", at))
    for a in users:
        for b in rng.sample(users, rng.randrange(0, 6)):
            if a is not b:
                await queries.follow(session, a.id, b.id)
    await session.commit()

    for viewer in users:
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
        seen, cursor = [], None
        while True:
            page = await queries.home_timeline(session, viewer.id, cursor or queries.FIRST)
            seen += [item.post.id for item in page.items]
            if page.next is None:
                break
            cursor = page.next
        assert seen == expected


async def test_cursor_round_trips(session):
    cursor = Cursor(T0 + timedelta(microseconds=123456), 42)
    from app.pagination import decode

    assert decode(cursor.encode()) == cursor
    assert decode(Cursor(None, 7).encode()) == Cursor(None, 7)


async def test_get_requests_on_postgres_skip_the_transaction(app, client, make_user):
    """GET pages read in autocommit on PostgreSQL (no BEGIN/ROLLBACK); writes keep theirs."""
    from sqlalchemy import event

    engine = app.app.extensions["db_engine"].sync_engine
    levels: list[str | None] = []

    def on_begin(connection) -> None:
        levels.append(connection.get_execution_options().get("isolation_level"))

    client.login(await make_user("john"))
    event.listen(engine, "begin", on_begin)
    try:
        await client.get("/explore")
        reads = list(levels)
        await client.post("/posts", {"body": "a write"})
        writes = levels[len(reads) :]
    finally:
        event.remove(engine, "begin", on_begin)
    expected = "AUTOCOMMIT" if engine.dialect.name == "postgresql" else None
    assert reads and set(reads) == {expected}
    assert writes and None in writes  # the POST ran in a real transaction
