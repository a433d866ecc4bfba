"""Likes: like and unlike (idempotent, race-safe), a post's count, and who liked it.

Pages of posts read the count and the viewer's own like in their one statement (`like_count`
and `liked_by_viewer`, selected by posts.page_of): likes cost a page no statement of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, bindparam, delete, exists, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.db import dialect_of
from app.models import Like, Post, User
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events, follows, notifications, visibility

# Who is looking: the page statements bind it (0 for nobody, which likes nothing).
VIEWER = bindparam("viewer", type_=Integer)


def like_count_of(post_id: Any) -> Any:
    """A scalar subquery: the post's likes, counted on the primary key (post_id, user_id)."""
    return (
        select(func.count()).where(Like.post_id == post_id).correlate_except(Like).scalar_subquery()
    )


def liked_by_viewer(post_id: Any) -> Any:
    """Has the page's viewer (the `viewer` parameter) liked the post? One probe of the key."""
    return exists().where(Like.post_id == post_id, Like.user_id == VIEWER).correlate_except(Like)


async def like(session: AsyncSession, user_id: int, post: Post) -> bool:
    """Idempotent: liking twice, or twice at once, leaves one row and raises nothing. A new
    like notifies the post's author (in this transaction). True when the like is new."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(Like)
        .values(post_id=post.id, user_id=user_id, created_at=utcnow())
        .on_conflict_do_nothing()
        .returning(Like.user_id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await notifications.liked(session, user_id, post.author_id, post.id, utcnow())
    await events.publish(session, "like", actor_id=user_id, post_id=post.id)
    return True


async def unlike(session: AsyncSession, user_id: int, post: Post) -> bool:
    """Idempotent; its notification is taken back. True when there was a like to remove."""
    stmt = (
        delete(Like).where(Like.post_id == post.id, Like.user_id == user_id).returning(Like.user_id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await notifications.unliked(session, user_id, post.author_id, post.id, utcnow())
    await events.publish(session, "unlike", actor_id=user_id, post_id=post.id)
    return True


async def like_count(session: AsyncSession, post_id: int) -> int:
    """A post's likes (the live streams' count, the same for every viewer)."""
    return await session.scalar(select(like_count_of(post_id))) or 0


class LikeState(NamedTuple):
    likes: int
    liked: bool  # by the viewer


async def like_state(session: AsyncSession, post_id: int, viewer: int | None) -> LikeState:
    """A post's count and the viewer's like, in one statement (the answer to a Like button)."""
    stmt = select(like_count_of(post_id), liked_by_viewer(post_id))
    count, liked = (await session.execute(stmt, {"viewer": viewer or 0})).one()
    return LikeState(count, bool(liked))


class Liker(NamedTuple):
    user: User
    liked_at: datetime
    i_follow: bool  # does the viewer follow this person? (people_items.html's follow button)


async def likers(
    session: AsyncSession, post_id: int, *, viewer: int | None, cursor: Cursor = FIRST
) -> Page[Liker]:
    """Who liked the post, newest first, with the viewer's follow state: one statement. Not
    those blocked either way, nor suspended accounts (app/queries/visibility.py)."""
    stmt = (
        select(User, Like.created_at, follows.viewer_follows(viewer))
        .join(Like, Like.user_id == User.id)
        .where(
            Like.post_id == post_id,
            User.suspended_at.is_(None),
            ~visibility.blocked_either_way(User.id, viewer or 0),
            tuple_(Like.created_at, Like.user_id) < (cursor.at, cursor.id),
        )
        .order_by(Like.created_at.desc(), Like.user_id.desc())
        .limit(FETCH)
    )
    rows = [Liker(user, at, i_follow) for user, at, i_follow in await session.execute(stmt)]
    return cut(rows, lambda liker: Cursor(liker.liked_at, liker.user.id))
