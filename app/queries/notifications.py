"""Notifications: written in the transaction of the change that causes them, read newest first.

Every write here also records an event (app/queries/events.py), so the recipient's open pages
hear that their unread count changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnClause,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager

from app.models import Comment, Notification, Post
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events, visibility

# Following (or liking) again within this long after undoing it brings the old notification
# back instead of a new one.
REDO_WINDOW = timedelta(hours=1)

_unread = and_(Notification.read_at.is_(None), Notification.withdrawn_at.is_(None))
# Nothing from someone the recipient does not see: blocked either way, muted, suspended
# (app/queries/visibility.py); in the statement, so the count and the page agree. What staff
# are told to act on (a report, an account waiting for approval) reaches them whoever sent it:
# a moderator who muted the reporter must still see the report.
STAFF_KINDS = ("report", "signup")
# (A comparison per kind, not IN: an IN list compiles to an expanding parameter, which the
# benchmark's reference pages, compiled once to plain SQL, cannot carry: bench/reference_sql.py.)
_staff_kind = or_(*(Notification.kind == kind for kind in STAFF_KINDS))
_from_someone_shown = visibility.shown(
    Notification.actor_id, Notification.recipient_id, unless=_staff_kind
)


def unread_count_of(user_id: Any) -> Any:
    """A scalar subquery: the user's unread notifications. Selected beside the session's user
    on every request (app/queries/user_sessions.py), so it costs no statement of its own; it
    reads the partial index of unread notifications only."""
    return (
        select(func.count())
        .where(Notification.recipient_id == user_id, _unread, _from_someone_shown)
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
    report_id: int | None = None,
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
            report_id=report_id,
            created_at=now,
        )
    )
    await events.publish(session, "notify", user_id=recipient_id)


def _about(recipient_id: int, actor_id: int, kind: str, post_id: int | None) -> Any:
    """The notifications of one undoable action: a follow, or a like of one post."""
    post = Notification.post_id.is_(None) if post_id is None else Notification.post_id == post_id
    return and_(
        Notification.recipient_id == recipient_id,
        Notification.actor_id == actor_id,
        Notification.kind == kind,
        post,
    )


async def _redone(
    session: AsyncSession,
    recipient_id: int,
    actor_id: int,
    kind: str,
    now: datetime,
    post_id: int | None = None,
) -> None:
    """An action that can be undone (a follow, a like) was done: a notification, unless this
    redoes an undo of the last hour, which brings the earlier notification back instead (so
    clicking on and off does not notify again and again)."""
    if recipient_id == actor_id:
        return
    about = _about(recipient_id, actor_id, kind, post_id)
    recent = await session.scalar(
        select(Notification.id)
        .where(about, Notification.created_at > now - REDO_WINDOW)
        .order_by(Notification.id.desc())
        .limit(1)
    )
    if recent is not None:
        await session.execute(
            update(Notification).where(Notification.id == recent).values(withdrawn_at=None)
        )
        await events.publish(session, "notify", user_id=recipient_id)
        return
    await session.execute(delete(Notification).where(about))  # older, withdrawn ones
    await _notify(session, recipient_id, kind, actor_id, now, post_id=post_id)


async def _undone(
    session: AsyncSession,
    recipient_id: int,
    actor_id: int,
    kind: str,
    now: datetime,
    post_id: int | None = None,
) -> None:
    """The action is undone: its notification is hidden (and gone from the count); the
    recipient's open pages hear that their count changed."""
    if recipient_id == actor_id:
        return
    await session.execute(
        update(Notification)
        .where(
            _about(recipient_id, actor_id, kind, post_id),
            Notification.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    await events.publish(session, "notify", user_id=recipient_id)


async def followed(
    session: AsyncSession, follower_id: int, followed_id: int, now: datetime
) -> None:
    """`follower_id` followed `followed_id` (see `_redone`)."""
    await _redone(session, followed_id, follower_id, "follow", now)


async def unfollowed(
    session: AsyncSession, follower_id: int, followed_id: int, now: datetime
) -> None:
    await _undone(session, followed_id, follower_id, "follow", now)


async def liked(
    session: AsyncSession, liker_id: int, author_id: int, post_id: int, now: datetime
) -> None:
    """`liker_id` liked a post of `author_id`'s (never a notification for your own post)."""
    await _redone(session, author_id, liker_id, "like", now, post_id)


async def unliked(
    session: AsyncSession, liker_id: int, author_id: int, post_id: int, now: datetime
) -> None:
    await _undone(session, author_id, liker_id, "like", now, post_id)


async def mentioned_again(
    session: AsyncSession, post_id: int, author_id: int, mentioned: list[int], now: datetime
) -> None:
    """An edited post newly mentions these people: those it never notified hear of it."""
    if not mentioned:
        return
    already = set(
        await session.scalars(
            select(Notification.recipient_id).where(
                Notification.post_id == post_id,
                Notification.comment_id.is_(None),
                Notification.kind == "mention",
                Notification.recipient_id.in_(mentioned),
            )
        )
    )
    for user_id in mentioned:
        if user_id not in already:
            await _notify(session, user_id, "mention", author_id, now, post_id=post_id)


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


async def reported(
    session: AsyncSession, report_id: int, reporter_id: int, staff: list[int], now: datetime
) -> None:
    """A new report: every moderator and admin (`staff`) hears of it."""
    for user_id in staff:
        await _notify(session, user_id, "report", reporter_id, now, report_id=report_id)


async def waiting_for_approval(
    session: AsyncSession, user_id: int, admins: list[int], now: datetime
) -> None:
    """A new account waits for approval (REGISTRATION=approval): every admin hears of it."""
    for admin_id in admins:
        await _notify(session, admin_id, "signup", user_id, now)


class Item(NamedTuple):
    notification: Notification
    post_body: str | None
    comment_body: str | None
    others: int = 0  # a like: how many more people liked the post ("alice and 3 others")


# Written into the SQL, not bound: a partial index (ix_notifications_likes) is used only for a
# query whose condition visibly implies the index's own.
_LIKE: ColumnClause[Any] = literal_column("'like'")


def _likes_of_the_post(other: Any) -> Any:
    """`other` is a shown like notification of the same post and recipient as the row's
    (not from someone the recipient does not see: a muted liker neither heads the line nor
    counts among the others)."""
    return and_(
        other.post_id == Notification.post_id,
        other.kind == _LIKE,
        other.withdrawn_at.is_(None),
        other.recipient_id == Notification.recipient_id,
        visibility.shown(other.actor_id, other.recipient_id),
    )


def _like_groups() -> tuple[Any, Any]:
    """The likes of one post are one line: only the newest of them is listed (`listed`), and
    it says how many others there are (`others`). Both read ix_notifications_likes."""
    newer, group = aliased(Notification), aliased(Notification)
    listed = or_(
        Notification.kind != "like",
        ~exists().where(_likes_of_the_post(newer), newer.id > Notification.id),
    )
    size = select(func.count()).where(_likes_of_the_post(group)).scalar_subquery()
    others = case((Notification.kind == "like", size - 1), else_=0)
    return listed, others


def _listed() -> Any:
    """The user's (`:user_id`) notifications as listed, with who and what, likes grouped by
    post."""
    post, comment = aliased(Post), aliased(Comment)
    listed, others = _like_groups()
    return (
        select(Notification, post.body, comment.body, others)
        .join(Notification.actor)
        .options(contains_eager(Notification.actor))
        .outerjoin(post, post.id == Notification.post_id)
        .outerjoin(comment, comment.id == Notification.comment_id)
        .where(
            Notification.recipient_id == bindparam("user_id"),
            Notification.withdrawn_at.is_(None),
            listed,
            _from_someone_shown,
        )
        .limit(FETCH)
    )


# Built once, with the user and the cursor bound: made per call, this statement (its aliases,
# its like groups) cost more to build than to run (docs/benchmarks.md, "The web layer").
_KEY = tuple_(Notification.created_at, Notification.id)
_CURSOR = tuple_(bindparam("at", type_=Notification.created_at.type), bindparam("id"))
PAGE = (
    _listed().where(_KEY < _CURSOR).order_by(Notification.created_at.desc(), Notification.id.desc())
)
PAGE_AFTER = (
    _listed().where(_KEY > _CURSOR).order_by(Notification.created_at.asc(), Notification.id.asc())
)


async def page_of(session: AsyncSession, user_id: int, cursor: Cursor = FIRST) -> Page[Item]:
    """A user's notifications newest first, with who and what, likes grouped by post, in one
    statement."""
    params = {"user_id": user_id, "at": cursor.at, "id": cursor.id}
    rows = [Item(n, p, c, o) for n, p, c, o in await session.execute(PAGE, params)]
    return cut(rows, lambda item: Cursor(item.notification.created_at, item.notification.id))


async def right_after(session: AsyncSession, user_id: int, cursor: Cursor) -> list[Item]:
    """The PAGE_SIZE + 1 notifications right after `cursor` (the client API's min_id), newest
    first: the same index as `page_of`, read forwards."""
    params = {"user_id": user_id, "at": cursor.at, "id": cursor.id}
    rows = (await session.execute(PAGE_AFTER, params)).all()
    return [Item(n, p, c, o) for n, p, c, o in reversed(rows)]


async def mark_read(session: AsyncSession, user_id: int, ids: list[int], now: datetime) -> bool:
    """Mark these of the user's notifications read, with the likes each listed like stands
    for (those of its post, up to it: not one that came after the page was shown); True
    when any was unread."""
    if not ids:
        return False
    shown = aliased(Notification)  # not the UPDATE's own row: a subquery of its own
    shown_likes = select(shown.post_id).where(shown.id.in_(ids), shown.kind == "like")
    in_a_shown_group = and_(
        Notification.kind == "like",
        Notification.post_id.in_(shown_likes),
        Notification.id <= max(ids),
    )
    stmt = (
        update(Notification)
        .where(
            Notification.recipient_id == user_id,
            or_(Notification.id.in_(ids), in_a_shown_group),
            _unread,
        )
        .values(read_at=now)
        .returning(Notification.id)
    )
    changed = bool((await session.execute(stmt)).first())
    if changed:
        await events.publish(session, "read", user_id=user_id)
    return changed


async def cursor_of(session: AsyncSession, user_id: int, notification_id: int) -> Cursor | None:
    """Where a page after one of the user's notifications starts (API paging by id)."""
    stmt = select(Notification.created_at).where(
        Notification.id == notification_id, Notification.recipient_id == user_id
    )
    at = await session.scalar(stmt)
    return None if at is None else Cursor(at, notification_id)


async def dismiss(session: AsyncSession, user_id: int, notification_id: int) -> bool:
    """Delete one of the user's notifications; False when it is not theirs (or gone)."""
    stmt = (
        delete(Notification)
        .where(Notification.id == notification_id, Notification.recipient_id == user_id)
        .returning(Notification.id)
    )
    if (await session.execute(stmt)).first() is None:
        return False
    await events.publish(session, "read", user_id=user_id)
    return True


async def clear(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(Notification).where(Notification.recipient_id == user_id))
    await events.publish(session, "read", user_id=user_id)
