"""Comments on posts: pages of them oldest first, adding, deleting, counting."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from app import text
from app.clock import utcnow
from app.models import Comment, Post, User
from app.pagination import FETCH, Cursor, Page, cut
from app.queries import events, notifications, users, visibility


def _after(cursor: Cursor) -> ColumnElement[bool]:
    """Comments after `cursor` in page order (comments with no time come first)."""
    if cursor.at is None:
        return or_(
            Comment.created_at.is_not(None),
            Comment.created_at.is_(None) & (Comment.id > cursor.id),
        )
    return or_(
        Comment.created_at > cursor.at,
        (Comment.created_at == cursor.at) & (Comment.id > cursor.id),
    )


def _up_to(cursor: Cursor) -> ColumnElement[bool]:
    """Comments at or before `cursor` in page order."""
    if cursor.at is None:
        return Comment.created_at.is_(None) & (Comment.id <= cursor.id)
    return or_(
        Comment.created_at.is_(None),
        Comment.created_at < cursor.at,
        (Comment.created_at == cursor.at) & (Comment.id <= cursor.id),
    )


async def comments_for(
    session: AsyncSession,
    post_id: int,
    cursor: Cursor | None = None,
    *,
    until: Cursor | None = None,
    viewer: int | None = None,
) -> Page[Comment]:
    """A post's comments, oldest first: those after `cursor`, and none after `until`; none
    the viewer does not see (app/queries/visibility.py), in the same statement."""
    stmt = (
        select(Comment)
        .outerjoin(Comment.author)
        .options(contains_eager(Comment.author))
        .where(
            Comment.post_id == post_id,
            visibility.shown_or_nobody(Comment.author_id, viewer or 0),
        )
        .order_by(Comment.created_at.asc().nulls_first(), Comment.id.asc())
        .limit(FETCH)
    )
    if cursor is not None:
        stmt = stmt.where(_after(cursor))
    if until is not None:
        stmt = stmt.where(_up_to(until))
    rows = list(await session.scalars(stmt))
    return cut(rows, lambda c: Cursor(c.created_at, c.id))


async def get_comment(session: AsyncSession, comment_id: int) -> Comment | None:
    return await session.scalar(select(Comment).where(Comment.id == comment_id))


async def get_comment_with_author(session: AsyncSession, comment_id: int) -> Comment | None:
    stmt = (
        select(Comment)
        .outerjoin(Comment.author)
        .options(contains_eager(Comment.author))
        .where(Comment.id == comment_id)
    )
    return await session.scalar(stmt)


async def post_author_id(session: AsyncSession, post_id: int) -> int | None:
    return await session.scalar(select(Post.author_id).where(Post.id == post_id))


async def add_comment(
    session: AsyncSession, post_id: int, post_author_id: int, author: User, body: str
) -> Comment:
    """The new comment, with `author` set for rendering but not added to this session. The
    post's author and the people it mentions are notified; open pages of the post hear of it."""
    now = utcnow()
    comment = Comment(post_id=post_id, author_id=author.id, body=body, created_at=now)
    session.add(comment)
    await session.flush()
    set_committed_value(comment, "author", author)
    mentioned = await users.ids_of_names(session, text.mentioned([body]), unblocked=author.id)
    await notifications.commented(session, comment, post_author_id, mentioned, now)
    await events.publish(
        session, "comment", actor_id=author.id, post_id=post_id, comment_id=comment.id
    )
    return comment


async def delete_comment(
    session: AsyncSession, comment_id: int, post_id: int, deleted_by: int
) -> None:
    """Its notifications go with it (ON DELETE CASCADE); open pages of the post hear of it."""
    await session.execute(delete(Comment).where(Comment.id == comment_id))
    await events.publish(
        session, "comment_deleted", actor_id=deleted_by, post_id=post_id, comment_id=comment_id
    )


async def comment_count(session: AsyncSession, post_id: int) -> int:
    stmt = select(func.count()).select_from(Comment).where(Comment.post_id == post_id)
    return await session.scalar(stmt) or 0
