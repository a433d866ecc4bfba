"""Blocks and mutes: make and undo them (idempotent, race-safe), and list a user's.

What they hide is decided in app/queries/visibility.py; here they are written. A block also
ends the follows between the two, in its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, literal, or_, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.db import dialect_of
from app.models import Block, Follow, Mute, User
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events, notifications


async def _insert(session: AsyncSession, model: Any, **values: int) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True when the row is new."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(model)
        .values(**values, created_at=utcnow())
        .on_conflict_do_nothing()
        .returning(*(getattr(model, name) for name in values))
    )
    return (await session.execute(stmt)).first() is not None


async def block(session: AsyncSession, blocker_id: int, blocked_id: int) -> bool:
    """Idempotent. A new block ends the follows between the two, either way (their follow
    notifications are withdrawn; open pages hear of it). True when the block is new."""
    if not await _insert(session, Block, blocker_id=blocker_id, blocked_id=blocked_id):
        return False
    ended = (
        delete(Follow)
        .where(
            or_(
                (Follow.follower_id == blocker_id) & (Follow.followed_id == blocked_id),
                (Follow.follower_id == blocked_id) & (Follow.followed_id == blocker_id),
            )
        )
        .returning(Follow.follower_id, Follow.followed_id)
    )
    now = utcnow()
    for follower_id, followed_id in (await session.execute(ended)).all():
        await notifications.unfollowed(session, follower_id, followed_id, now)
        await events.publish(session, "unfollow", actor_id=follower_id, user_id=followed_id)
    await events.publish(session, "block", actor_id=blocker_id, user_id=blocked_id)
    return True


async def unblock(session: AsyncSession, blocker_id: int, blocked_id: int) -> bool:
    """Idempotent; the follows a block ended stay ended. True when there was a block."""
    stmt = (
        delete(Block)
        .where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
        .returning(Block.blocker_id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await events.publish(session, "unblock", actor_id=blocker_id, user_id=blocked_id)
    return True


async def mute(session: AsyncSession, muter_id: int, muted_id: int) -> bool:
    """Idempotent; the muted one is told nothing. True when the mute is new."""
    if not await _insert(session, Mute, muter_id=muter_id, muted_id=muted_id):
        return False
    await events.publish(session, "mute", actor_id=muter_id, user_id=muted_id)
    return True


async def unmute(session: AsyncSession, muter_id: int, muted_id: int) -> bool:
    stmt = (
        delete(Mute)
        .where(Mute.muter_id == muter_id, Mute.muted_id == muted_id)
        .returning(Mute.muter_id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await events.publish(session, "unmute", actor_id=muter_id, user_id=muted_id)
    return True


async def hidden_ids(session: AsyncSession, viewer: int) -> set[int]:
    """Everyone hidden from `viewer` by a block (either way) or their mute: what a live
    stream leaves out (app/blueprints/live.py). Three key ranges, one statement."""
    stmt = (
        select(Block.blocked_id)
        .where(Block.blocker_id == viewer)
        .union(
            select(Block.blocker_id).where(Block.blocked_id == viewer),
            select(Mute.muted_id).where(Mute.muter_id == viewer),
        )
    )
    return set(await session.scalars(stmt))


class Listed(NamedTuple):
    user: User
    since: datetime
    active: bool  # still blocked (muted): False once undone on the settings page


async def _listed(
    session: AsyncSession, model: Any, mine: Any, theirs: Any, user_id: int, cursor: Cursor
) -> Page[Listed]:
    """One of the user's lists, newest first, keyset on (created_at, the other's id)."""
    stmt = (
        select(User, model.created_at)
        .join(model, theirs == User.id)
        .where(mine == user_id, tuple_(model.created_at, theirs) < (cursor.at, cursor.id))
        .order_by(model.created_at.desc(), theirs.desc())
        .limit(FETCH)
    )
    rows = [Listed(user, at, True) for user, at in await session.execute(stmt)]
    return cut(rows, lambda listed: Cursor(listed.since, listed.user.id))


async def blocked_by(session: AsyncSession, user_id: int, cursor: Cursor = FIRST) -> Page[Listed]:
    """The accounts the user blocks, most recent first."""
    return await _listed(session, Block, Block.blocker_id, Block.blocked_id, user_id, cursor)


async def muted_by(session: AsyncSession, user_id: int, cursor: Cursor = FIRST) -> Page[Listed]:
    """The accounts the user mutes, most recent first."""
    return await _listed(session, Mute, Mute.muter_id, Mute.muted_id, user_id, cursor)


class Standing(NamedTuple):
    """Among some accounts: whom the viewer blocks, who blocks the viewer, whom they mute."""

    blocking: set[int]
    blocked_by: set[int]
    muting: set[int]


async def standing_among(session: AsyncSession, viewer: int, user_ids: set[int]) -> Standing:
    """How the viewer stands with each of `user_ids` (the client API's relationships), in one
    statement: three key probes per account."""
    found = Standing(set(), set(), set())
    if not user_ids:
        return found
    ids = list(user_ids)
    stmt = union_all(
        select(literal(0), Block.blocked_id).where(
            Block.blocker_id == viewer, Block.blocked_id.in_(ids)
        ),
        select(literal(1), Block.blocker_id).where(
            Block.blocked_id == viewer, Block.blocker_id.in_(ids)
        ),
        select(literal(2), Mute.muted_id).where(Mute.muter_id == viewer, Mute.muted_id.in_(ids)),
    )
    for which, user_id in await session.execute(stmt):
        found[which].add(user_id)
    return found
