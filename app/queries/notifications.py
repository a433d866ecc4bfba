"""Notifications: written in the transaction of the change that causes them, read newest first.

Every write here also records an event (app/queries/events.py), so the recipient's open pages
hear that their unread count changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager

from app.models import Comment, Notification, Post
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events

# Following again within this long after unfollowing brings the old notification back.
REFOLLOW_WINDOW = timedelta(hours=1)

_unread = and_(Notification.read_at.is_(None), Notification.withdrawn_at.is_(None))


def unread_count_of(user_id: Any) -> Any:
    """A scalar subquery: the user's unread notifications. Selected beside the session's user
    on every request (app/queries/user_sessions.py), so it costs no statement of its own; it
    reads the partial index of unread notifications only."""
    return (
        select(func.count())
        .where(Notification.recipient_id == user_id, _unread)
        .correlate_except(Notification)
        .scalar_subquery()
    )


async def unread_count(session: AsyncSession, user_id: int) -> int:
    return await session.scalar(select(unread_count_of(user_id))) or 0


async def _notify(
    session: AsyncSession,
    recipient_id: int,
    kind: str,
    actor_id: int,
    now: datetime,
    *,
    post_id: int | None = None,
    comment_id: int | None = None,
) -> None:
    if recipient_id == actor_id:
        return  # never for your own actions
    session.add(
        Notification(
            recipient_id=recipient_id,
            kind=kind,
            actor_id=actor_id,
            post_id=post_id,
            comment_id=comment_id,
            created_at=now,
        )
    )
    await events.publish(session, "notify", user_id=recipient_id)


async def followed(
    session: AsyncSession, follower_id: int, followed_id: int, now: datetime
) -> None:
    """`follower_id` followed `followed_id`: a notification, unless this follow undoes an
    unfollow of the last hour, which brings the earlier notification back instead."""
    about = and_(
        Notification.recipient_id == followed_id,
        Notification.actor_id == follower_id,
        Notification.kind == "follow",
    )
    recent = await session.scalar(
        select(Notification.id)
        .where(about, Notification.created_at > now - REFOLLOW_WINDOW)
        .order_by(Notification.id.desc())
        .limit(1)
    )
    if recent is not None:
        await session.execute(
            update(Notification).where(Notification.id == recent).values(withdrawn_at=None)
        )
        await events.publish(session, "notify", user_id=followed_id)
        return
    await session.execute(delete(Notification).where(about))  # older, withdrawn ones
    await _notify(session, followed_id, "follow", follower_id, now)


async def unfollowed(
    session: AsyncSession, follower_id: int, followed_id: int, now: datetime
) -> None:
    """The follow is undone: its notification is hidden (and gone from the count)."""
    await session.execute(
        update(Notification)
        .where(
            Notification.recipient_id == followed_id,
            Notification.actor_id == follower_id,
            Notification.kind == "follow",
            Notification.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    await events.publish(session, "notify", user_id=followed_id)


async def posted(session: AsyncSession, post: Post, mentioned: list[int], now: datetime) -> None:
    """A new post: everyone it mentions hears of it."""
    for user_id in mentioned:
        await _notify(session, user_id, "mention", post.author_id, now, post_id=post.id)


async def commented(
    session: AsyncSession,
    comment: Comment,
    post_author_id: int,
    mentioned: list[int],
    now: datetime,
) -> None:
    """A new comment: the post's author hears of it, and everyone it mentions — once each
    (the post's author mentioned in a comment on their post has the comment's notification)."""
    assert comment.author_id is not None
    actor = comment.author_id
    ids = {"post_id": comment.post_id, "comment_id": comment.id}
    await _notify(session, post_author_id, "comment", actor, now, **ids)
    for user_id in mentioned:
        if user_id != post_author_id:
            await _notify(session, user_id, "mention", actor, now, **ids)


class Item(NamedTuple):
    notification: Notification
    post_body: str | None
    comment_body: str | None


async def page_of(session: AsyncSession, user_id: int, cursor: Cursor = FIRST) -> Page[Item]:
    """A user's notifications newest first, with who and what, in one statement."""
    post, comment = aliased(Post), aliased(Comment)
    stmt = (
        select(Notification, post.body, comment.body)
        .join(Notification.actor)
        .options(contains_eager(Notification.actor))
        .outerjoin(post, post.id == Notification.post_id)
        .outerjoin(comment, comment.id == Notification.comment_id)
        .where(
            Notification.recipient_id == user_id,
            Notification.withdrawn_at.is_(None),
            tuple_(Notification.created_at, Notification.id) < (cursor.at, cursor.id),
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(FETCH)
    )
    rows = [Item(n, p, c) for n, p, c in await session.execute(stmt)]
    return cut(rows, lambda item: Cursor(item.notification.created_at, item.notification.id))


async def mark_read(session: AsyncSession, user_id: int, ids: list[int], now: datetime) -> bool:
    """Mark these of the user's notifications read; True when any was unread."""
    if not ids:
        return False
    stmt = (
        update(Notification)
        .where(Notification.recipient_id == user_id, Notification.id.in_(ids), _unread)
        .values(read_at=now)
        .returning(Notification.id)
    )
    changed = bool((await session.execute(stmt)).first())
    if changed:
        await events.publish(session, "read", user_id=user_id)
    return changed
