"""The social graph: follow, unfollow, counts, and follower/following lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Integer, bindparam, delete, exists, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.db import dialect_of
from app.models import Follow, User
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events, notifications, visibility


async def follow(session: AsyncSession, follower_id: int, followed_id: int) -> bool:
    """Idempotent: following twice leaves one edge and raises nothing, even under a race.
    A new edge notifies the followed user. True when the edge is new."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(Follow)
        .values(follower_id=follower_id, followed_id=followed_id)
        .on_conflict_do_nothing()
        .returning(Follow.follower_id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await notifications.followed(session, follower_id, followed_id, utcnow())
    await events.publish(session, "follow", actor_id=follower_id, user_id=followed_id)
    return True


async def unfollow(session: AsyncSession, follower_id: int, followed_id: int) -> bool:
    """True when there was an edge to remove."""
    stmt = (
        delete(Follow)
        .where(Follow.follower_id == follower_id, Follow.followed_id == followed_id)
        .returning(Follow.follower_id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await notifications.unfollowed(session, follower_id, followed_id, utcnow())
    await events.publish(session, "unfollow", actor_id=follower_id, user_id=followed_id)
    return True


async def is_following(session: AsyncSession, follower_id: int, followed_id: int) -> bool:
    stmt = select(
        exists().where(Follow.follower_id == follower_id, Follow.followed_id == followed_id)
    )
    return bool(await session.scalar(stmt))


async def followee_ids(session: AsyncSession, user_id: int) -> set[int]:
    stmt = select(Follow.followed_id).where(Follow.follower_id == user_id)
    return set(await session.scalars(stmt))


async def follower_count(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).select_from(Follow).where(Follow.followed_id == user_id)
    return await session.scalar(stmt) or 0


async def following_count(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
    return await session.scalar(stmt) or 0


class Relations(NamedTuple):
    followers: int
    following: int
    i_follow: bool  # does the viewer follow this user?
    i_block: bool = False  # has the viewer blocked this user?
    blocks_me: bool = False  # has this user blocked the viewer?
    i_mute: bool = False  # has the viewer muted this user?


_user, _viewer = bindparam("user_id", type_=Integer), bindparam("viewer", type_=Integer)
# Built once, like the other statements of a page (docs/benchmarks.md, "The web layer").
RELATIONS = select(
    select(func.count()).where(Follow.followed_id == _user).scalar_subquery(),
    select(func.count()).where(Follow.follower_id == _user).scalar_subquery(),
    exists().where(Follow.follower_id == _viewer, Follow.followed_id == _user),
    *visibility.between(_viewer, _user),
)


async def relations(session: AsyncSession, user_id: int, viewer: int | None) -> Relations:
    """A profile's counts and how the viewer stands with its owner (follow, block, mute), in
    one round trip."""
    params = {"user_id": user_id, "viewer": viewer or 0}
    followers, following, *standing = (await session.execute(RELATIONS, params)).one()
    i_follow, i_block, blocks_me, i_mute = map(bool, standing)
    return Relations(followers, following, i_follow, i_block, blocks_me, i_mute)


class Person(NamedTuple):
    user: User
    followed_at: datetime
    i_follow: bool  # does the viewer follow this person?


def viewer_follows(viewer: int | None) -> Any:
    """Does `viewer` follow the User of the enclosing query (for its Follow button)?"""
    return (
        exists()
        .where(Follow.follower_id == (viewer or 0), Follow.followed_id == User.id)
        .correlate(User)
    )


async def _people(
    session: AsyncSession, me: int | None, mine: Any, theirs: Any, user_id: int, cursor: Cursor
) -> Page[Person]:
    stmt = (
        select(User, Follow.created_at, viewer_follows(me))
        .join(Follow, theirs == User.id)
        .where(
            mine == user_id,
            tuple_(Follow.created_at, theirs) < (cursor.at, cursor.id),
            visibility.listed(User, me or 0),
        )
        .order_by(Follow.created_at.desc(), theirs.desc())
        .limit(FETCH)
    )
    rows = [Person(user, at, i_follow) for user, at, i_follow in await session.execute(stmt)]
    return cut(rows, lambda p: Cursor(p.followed_at, p.user.id))


async def followers(
    session: AsyncSession, user_id: int, *, viewer: int | None, cursor: Cursor = FIRST
) -> Page[Person]:
    return await _people(session, viewer, Follow.followed_id, Follow.follower_id, user_id, cursor)


async def following(
    session: AsyncSession, user_id: int, *, viewer: int | None, cursor: Cursor = FIRST
) -> Page[Person]:
    return await _people(session, viewer, Follow.follower_id, Follow.followed_id, user_id, cursor)


_ids: BindParameter[int] = bindparam("ids", expanding=True)
FOLLOWED_AMONG = select(Follow.followed_id).where(
    Follow.follower_id == _viewer, Follow.followed_id.in_(_ids)
)
FOLLOWERS_AMONG = select(Follow.follower_id).where(
    Follow.followed_id == _viewer, Follow.follower_id.in_(_ids)
)


async def followed_among(session: AsyncSession, viewer: int, user_ids: set[int]) -> set[int]:
    """Which of these users the viewer follows (one statement, for a page's follow buttons)."""
    if not user_ids:
        return set()
    params = {"viewer": viewer, "ids": list(user_ids)}
    return set(await session.scalars(FOLLOWED_AMONG, params))


async def followers_among(session: AsyncSession, viewer: int, user_ids: set[int]) -> set[int]:
    """Which of these users follow the viewer (one statement, for API relationships)."""
    if not user_ids:
        return set()
    params = {"viewer": viewer, "ids": list(user_ids)}
    return set(await session.scalars(FOLLOWERS_AMONG, params))
