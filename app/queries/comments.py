"""Comments on posts: pages of them oldest first, adding, deleting, counting."""

from __future__ import annotations

import functools
from typing import Literal

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, or_, select
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


def _bound(name: str, timed: bool) -> Cursor:
    """A cursor of bound parameters (`name_at`, `name_id`); untimed: a comment with no time."""
    at = bindparam(f"{name}_at", type_=Comment.created_at.type) if timed else None
    return Cursor(at, bindparam(f"{name}_id"))  # type: ignore[arg-type]


# A page's statement by its shape: after a cursor or not (timed or not), up to one or not.
# Each is built once: made per call, the statement (its visibility rules' aliases) took longer
# to build than to run (docs/benchmarks.md, "The web layer").
Shape = Literal["none", "timed", "untimed"]


@functools.cache
def _page(after: Shape, until: Shape, authored: bool) -> Select[Comment]:
    stmt = (
        select(Comment)
        .outerjoin(Comment.author)
        .options(contains_eager(Comment.author))
        .where(
            Comment.post_id == bindparam("post_id"),
            visibility.shown_or_nobody(Comment.author_id),
        )
        .order_by(Comment.created_at.asc().nulls_first(), Comment.id.asc())
        .limit(FETCH)
    )
    if after != "none":
        stmt = stmt.where(_after(_bound("after", after == "timed")))
    if until != "none":
        stmt = stmt.where(_up_to(_bound("until", until == "timed")))
    if authored:
        stmt = stmt.where(Comment.author_id.is_not(None))
    return stmt


def _shape(cursor: Cursor | None) -> Shape:
    return "none" if cursor is None else "untimed" if cursor.at is None else "timed"


async def comments_for(
    session: AsyncSession,
    post_id: int,
    cursor: Cursor | None = None,
    *,
    until: Cursor | None = None,
    viewer: int | None = None,
    authored: bool = False,
) -> Page[Comment]:
    """A post's comments, oldest first: those after `cursor`, and none after `until`; none
    the viewer does not see (app/queries/visibility.py), in the same statement; `authored`:
    none whose author's account is gone (the client API: a status always has an account)."""
    params: dict[str, object] = {"post_id": post_id, "viewer": viewer or 0}
    for name, bound in (("after", cursor), ("until", until)):
        if bound is not None:
            params |= {f"{name}_at": bound.at, f"{name}_id": bound.id}
    stmt = _page(_shape(cursor), _shape(until), authored)
    rows = list(await session.scalars(stmt, params))
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
