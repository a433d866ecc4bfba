"""The home-timeline query shapes Warble is measured against: the tutorial's and raw SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy import Select, and_, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager

from app.models import Comment, Follow, Post, User
from app.pagination import PAGE_SIZE, Cursor
from app.queries import visibility
from bench.dataset import stamp

Row = tuple[int, str, int]  # post id, author's username, comment count


# -- the tutorial: followed UNION own, ORDER BY, OFFSET; built per request as the tutorial does.


def _tutorial_union(me: int) -> Any:
    """With Warble's visibility rules (blocks, mutes, suspended authors) on the followees, so
    that every shape returns the same rows (app/queries/visibility.py)."""
    followed = (
        select(Post)
        .join(Follow, Follow.followed_id == Post.author_id)
        .where(Follow.follower_id == me, visibility.shown(Follow.followed_id, me))
    )
    own = select(Post).where(Post.author_id == me)
    return union(followed, own).subquery("timeline")


def tutorial_page(me: int, page: int) -> Select[Any]:
    timeline = aliased(Post, _tutorial_union(me))
    comments = (
        select(func.count(Comment.id)).where(Comment.post_id == timeline.id).scalar_subquery()
    )
    return (
        select(timeline, comments)
        .join(timeline.author)
        .options(contains_eager(timeline.author))
        .order_by(timeline.created_at.desc(), timeline.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )


def tutorial_count(me: int) -> Select[Any]:
    """The total its pager needs to number the pages."""
    return select(func.count()).select_from(_tutorial_union(me))


async def tutorial(session: AsyncSession, me: int, page: int, *, count: bool) -> list[Row]:
    rows = [(p.id, p.author.username, n) for p, n in await session.execute(tutorial_page(me, page))]
    if count:
        await session.scalar(tutorial_count(me))
    return rows


def tutorial_grouped(me: int, page: int) -> Select[Any]:
    """The tutorial's later edition: one outer join of authors to followers, GROUP BY post."""
    follower = aliased(Follow)
    return (
        select(
            Post.id,
            User.username,
            select(func.count(Comment.id)).where(Comment.post_id == Post.id).scalar_subquery(),
        )
        .join(User, User.id == Post.author_id)
        .outerjoin(follower, follower.followed_id == User.id)
        .where(and_(follower.follower_id == me, visibility.shown(User.id, me)) | (User.id == me))
        .group_by(Post.id, User.username)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )


# -- raw SQL, no ORM: the ceiling ---------------------------------------------------------------

# The followees whose posts the timeline shows: not muted, not blocked either way, not
# suspended (Warble's rules, app/queries/visibility.py, written out by hand). {me} is the
# viewer's placeholder.
_SHOWN_FOLLOWED = """SELECT f.followed_id AS author_id FROM follows f WHERE f.follower_id = {me}
      AND NOT EXISTS (SELECT 1 FROM blocks b
                      WHERE b.blocker_id = {me} AND b.blocked_id = f.followed_id)
      AND NOT EXISTS (SELECT 1 FROM blocks b
                      WHERE b.blocker_id = f.followed_id AND b.blocked_id = {me})
      AND NOT EXISTS (SELECT 1 FROM users s
                      WHERE s.id = f.followed_id AND s.suspended_at IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM mutes m
                      WHERE m.muter_id = {me} AND m.muted_id = f.followed_id)"""

_PAGE = """
SELECT p.id, u.username, (SELECT count(*) FROM comments c WHERE c.post_id = p.id)
FROM ({ids}) ids JOIN posts p ON p.id = ids.id JOIN users u ON u.id = p.author_id
ORDER BY p.created_at DESC, p.id DESC
"""
LATERAL = _PAGE.format(
    ids=f"""
    SELECT n.id, n.created_at
    FROM ({_SHOWN_FOLLOWED.format(me="$1")}
          UNION ALL SELECT $1) a
    CROSS JOIN LATERAL (
        SELECT id, created_at FROM posts
        WHERE author_id = a.author_id AND (created_at, id) < ($2, $3)
        ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE + 1}) n
    ORDER BY n.created_at DESC, n.id DESC LIMIT {PAGE_SIZE + 1}"""
)
SCAN = _PAGE.format(
    ids=f"""
    SELECT id, created_at FROM posts
    WHERE (author_id IN ({_SHOWN_FOLLOWED.format(me="$1")}) OR author_id = $1)
      AND (created_at, id) < ($2, $3)
    ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE + 1}"""
)
SQLITE_PROBE = _PAGE.format(
    ids=f"""
    SELECT id, created_at FROM posts
    WHERE (author_id IN ({_SHOWN_FOLLOWED.format(me="?1")}) OR author_id = ?1)
      AND (created_at, id) < (?2, ?3)
    ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE + 1}"""
)
# +author_id: the unary plus keeps SQLite off the author index, so it scans newest first.
SQLITE_SCAN = SQLITE_PROBE.replace("(author_id IN", "(+author_id IN").replace(
    "OR author_id =", "OR +author_id ="
)


async def raw_postgres(conn: asyncpg.Connection, sql: str, me: int, before: Cursor) -> list[Row]:
    rows = await conn.fetch(sql, me, before.at, before.id)
    return [tuple(r) for r in rows[:PAGE_SIZE]]  # type: ignore[misc]


async def raw_sqlite(conn: aiosqlite.Connection, sql: str, me: int, before: Cursor) -> list[Row]:
    at: datetime = before.at  # type: ignore[assignment]
    async with conn.execute(sql, (me, stamp(at), before.id)) as cursor:
        rows = await cursor.fetchall()
    return [tuple(r) for r in rows[:PAGE_SIZE]]  # type: ignore[misc]
