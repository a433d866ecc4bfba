"""Moderation: reports, the moderation log, roles, suspension, approval, accounts for staff.

Who may do what is decided in app/moderation.py; these only read and write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, func, literal, select, tuple_, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload

from app.models import Comment, ModerationAction, Post, Report, User
from app.pagination import EPOCH, FETCH, FIRST, Cursor, Page, cut
from app.queries import notifications
from app.queries.posts import NEWEST_FIRST

OLDEST_FIRST = Cursor(EPOCH, 0)
RECENT_POSTS = 5  # an account's latest posts, shown beside a report about it
ON_ACCOUNT_PAGE = 50  # reports and log lines on an account's moderation page


async def staff_ids(session: AsyncSession, roles: tuple[str, ...]) -> list[int]:
    """The accounts with these roles that are not suspended (ix_users_staff)."""
    stmt = select(User.id).where(
        User.role != "user", User.role.in_(roles), User.suspended_at.is_(None)
    )
    return list(await session.scalars(stmt.order_by(User.id)))


async def create_report(
    session: AsyncSession,
    *,
    reporter_id: int,
    account_id: int,
    reason: str,
    comment: str,
    now: datetime,
    post_id: int | None = None,
    comment_id: int | None = None,
    reported_text: str | None = None,
) -> Report:
    """A new open report; every moderator and admin but the reported one is notified (in this
    transaction)."""
    report = Report(
        reporter_id=reporter_id,
        account_id=account_id,
        post_id=post_id,
        comment_id=comment_id,
        reason=reason,
        comment=comment,
        reported_text=reported_text,
        created_at=now,
    )
    session.add(report)
    await session.flush()
    # Not the reported account itself, when it is a moderator: the others decide.
    staff = [i for i in await staff_ids(session, ("moderator", "admin")) if i != account_id]
    await notifications.reported(session, report.id, reporter_id, staff, now)
    return report


def _with_people() -> tuple[Any, Any]:
    return joinedload(Report.reporter), joinedload(Report.account)


async def get_report(session: AsyncSession, report_id: int) -> Report | None:
    stmt = select(Report).options(*_with_people()).where(Report.id == report_id)
    return await session.scalar(stmt)


async def reports_by_id(session: AsyncSession, report_ids: set[int]) -> dict[int, Report]:
    """These reports with their reporters and accounts, in one statement (none: no statement)."""
    if not report_ids:
        return {}
    stmt = select(Report).options(*_with_people()).where(Report.id.in_(report_ids))
    return {report.id: report for report in await session.scalars(stmt)}


async def open_reports(session: AsyncSession, cursor: Cursor = OLDEST_FIRST) -> Page[Report]:
    """Open reports, oldest first (ix_reports_open), with reporter and account."""
    stmt = (
        select(Report)
        .options(*_with_people())
        .where(
            Report.resolved_at.is_(None),
            tuple_(Report.created_at, Report.id) > (cursor.at, cursor.id),
        )
        .order_by(Report.created_at, Report.id)
        .limit(FETCH)
    )
    rows = list(await session.scalars(stmt))
    return cut(rows, lambda report: Cursor(report.created_at, report.id))


async def reports_about(session: AsyncSession, account_id: int) -> list[Report]:
    stmt = (
        select(Report)
        .options(*_with_people())
        .where(Report.account_id == account_id)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(ON_ACCOUNT_PAGE)
    )
    return list(await session.scalars(stmt))


async def resolve(
    session: AsyncSession,
    moderator_id: int | None,
    resolution: str,
    now: datetime,
    *,
    report_id: int | None = None,
    account_id: int | None = None,
) -> int:
    """Close the open report `report_id`, or every open report about `account_id`; how many."""
    stmt = update(Report).where(Report.resolved_at.is_(None))
    if report_id is not None:
        stmt = stmt.where(Report.id == report_id)
    if account_id is not None:
        stmt = stmt.where(Report.account_id == account_id)
    values = {"resolved_at": now, "resolved_by_id": moderator_id, "resolution": resolution}
    result = await session.execute(stmt.values(values).returning(Report.id))
    return len(result.all())


class Context(NamedTuple):
    """What a moderator sees beside a report: the post with the author's posts just before and
    after it, or the comment; and the account's latest posts."""

    report: Report
    post: Post | None
    before: Post | None
    after: Post | None
    comment: Comment | None
    recent: list[Post]


def _ids(stmt: Select[Any], label: str, key: int) -> Select[Any]:
    """The ids `stmt` picks, tagged (label, key) to be told apart in a UNION; wrapped in a
    subquery so that its ORDER BY and LIMIT apply to it alone (SQLite asks for that)."""
    picked = stmt.subquery()
    return select(picked.c.id, literal(label).label("label"), literal(key).label("key"))


def _by(author_id: int) -> Select[Any]:
    return select(Post.id).where(Post.author_id == author_id)


async def recent_posts(session: AsyncSession, account_id: int) -> list[Post]:
    stmt = select(Post).where(Post.author_id == account_id).order_by(*NEWEST_FIRST)
    return list(await session.scalars(stmt.limit(RECENT_POSTS)))


async def contexts_of(session: AsyncSession, reports: list[Report]) -> list[Context]:
    """What a moderator sees beside each report of a page, in three statements whatever its
    length: the reported posts, the reported comments, then every neighbour and latest post
    at once (a UNION of one index range each)."""
    post_ids = {r.post_id for r in reports if r.post_id is not None}
    comment_ids = {r.comment_id for r in reports if r.comment_id is not None}
    reported = {p.id: p for p in await _load(session, Post, post_ids)}
    comments = {c.id: c for c in await _load(session, Comment, comment_ids)}
    key = tuple_(Post.created_at, Post.id)
    parts = []
    for post in reported.values():
        here = (post.created_at, post.id)
        before = _by(post.author_id).where(key < here).order_by(*NEWEST_FIRST)
        after = _by(post.author_id).where(key > here).order_by(Post.created_at, Post.id)
        parts += [_ids(before.limit(1), "before", post.id), _ids(after.limit(1), "after", post.id)]
    for account_id in {r.account_id for r in reports}:
        recent = _by(account_id).order_by(*NEWEST_FIRST).limit(RECENT_POSTS)
        parts.append(_ids(recent, "recent", account_id))
    found: dict[tuple[str, int], list[Post]] = {}
    if parts:
        tagged = union_all(*parts).subquery("tagged")
        stmt = select(Post, tagged.c.label, tagged.c.key).join(tagged, Post.id == tagged.c.id)
        for post, label, owner in await session.execute(stmt.order_by(*NEWEST_FIRST)):
            found.setdefault((label, owner), []).append(post)

    def neighbour(label: str, post_id: int | None) -> Post | None:
        return next(iter(found.get((label, post_id or 0), [])), None)

    return [
        Context(
            report=r,
            post=reported.get(r.post_id or 0),
            before=neighbour("before", r.post_id),
            after=neighbour("after", r.post_id),
            comment=comments.get(r.comment_id or 0),
            recent=found.get(("recent", r.account_id), []),
        )
        for r in reports
    ]


async def _load(session: AsyncSession, model: Any, ids: set[int]) -> list[Any]:
    if not ids:
        return []
    return list(await session.scalars(select(model).where(model.id.in_(ids))))


async def log(
    session: AsyncSession,
    *,
    moderator_id: int | None,
    moderator_name: str,
    action: str,
    account_id: int | None,
    account_name: str,
    now: datetime,
    report_id: int | None = None,
    detail: str = "",
    reason: str = "",
) -> None:
    """A line of the moderation log; names and text are copies, so it outlives them."""
    session.add(
        ModerationAction(
            moderator_id=moderator_id,
            moderator_name=moderator_name,
            action=action,
            account_id=account_id,
            account_name=account_name,
            report_id=report_id,
            detail=detail,
            reason=reason,
            created_at=now,
        )
    )
    await session.flush()


async def log_page(session: AsyncSession, cursor: Cursor = FIRST) -> Page[ModerationAction]:
    """The moderation log, newest first."""
    stmt = (
        select(ModerationAction)
        .where(tuple_(ModerationAction.created_at, ModerationAction.id) < (cursor.at, cursor.id))
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .limit(FETCH)
    )
    rows = list(await session.scalars(stmt))
    return cut(rows, lambda action: Cursor(action.created_at, action.id))


async def actions_on(session: AsyncSession, account_id: int) -> list[ModerationAction]:
    stmt = (
        select(ModerationAction)
        .where(ModerationAction.account_id == account_id)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .limit(ON_ACCOUNT_PAGE)
    )
    return list(await session.scalars(stmt))


async def waiting_accounts(session: AsyncSession) -> list[User]:
    """Accounts waiting for approval, oldest first (ix_users_waiting)."""
    stmt = select(User).where(~User.approved).order_by(User.created_at, User.id)
    return list(await session.scalars(stmt.limit(ON_ACCOUNT_PAGE)))


async def set_suspended(session: AsyncSession, user_id: int, when: datetime | None) -> bool:
    """Suspend (a time) or unsuspend (None); False when it was so already."""
    was = User.suspended_at.is_(None) if when is not None else User.suspended_at.is_not(None)
    stmt = update(User).where(User.id == user_id, was).values(suspended_at=when)
    return bool((await session.execute(stmt.returning(User.id))).first())


async def approve(session: AsyncSession, user_id: int) -> bool:
    stmt = update(User).where(User.id == user_id, ~User.approved)
    return bool((await session.execute(stmt.values(approved=True).returning(User.id))).first())


async def set_role(session: AsyncSession, user_id: int, role: str) -> None:
    await session.execute(update(User).where(User.id == user_id).values(role=role))


async def delete_user(session: AsyncSession, user_id: int) -> None:
    """The account and what it wrote (ON DELETE CASCADE); reports it made stay, unsigned."""
    await session.execute(delete(User).where(User.id == user_id))


async def accounts(
    session: AsyncSession, *, role: str | None = None, suspended: bool = False
) -> list[User]:
    """Every account, oldest first, for `warble user list`."""
    stmt = select(User).order_by(User.created_at, User.id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if suspended:
        stmt = stmt.where(User.suspended_at.is_not(None))
    return list(await session.scalars(stmt))


async def open_report_count(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(Report).where(Report.resolved_at.is_(None))
    return await session.scalar(stmt) or 0


async def comment_with_author(session: AsyncSession, comment_id: int) -> Comment | None:
    stmt = (
        select(Comment)
        .join(Comment.author)
        .options(contains_eager(Comment.author))
        .where(Comment.id == comment_id)
    )
    return await session.scalar(stmt)
