"""Who may moderate whom, and the moderation actions shared by /admin and the `warble` CLI.

Roles, in order of power: user, moderator, admin (app/models.py: ROLES); the command line is
above them all. Moderators and admins see /admin, dismiss reports, delete reported posts and
comments, suspend and unsuspend; only admins delete accounts, approve or reject sign-ups and
change roles. Nobody acts on their own account, or on an account of their rank or above (an
admin is demoted from the command line). Every action writes a line of the moderation log
and commits; a refused one raises Refused before writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.models import ROLES, Post, Report, User
from app.queries import comments, oauth, posts, user_sessions
from app.queries import moderation as queries

STAFF = ("moderator", "admin")
COMMAND_LINE = "command line"
RANK = {role: rank for rank, role in enumerate(ROLES)} | {COMMAND_LINE: len(ROLES)}
ARTICLE = {"user": "a", "moderator": "a", "admin": "an"}
ADMIN_ONLY = frozenset({"delete_account", "approve", "reject", "role"})
REASON_MAX = 1000
# How the log reads each action: "<moderator> suspended @<account>".
ACTION_NAMES = {
    "dismiss": "dismissed a report about",
    "delete_post": "deleted a post by",
    "delete_comment": "deleted a comment by",
    "suspend": "suspended",
    "unsuspend": "unsuspended",
    "delete_account": "deleted the account",
    "approve": "approved",
    "reject": "rejected the sign-up of",
    "role": "changed the role of",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in moderator or admin, or the command line."""

    id: int | None
    name: str
    role: str


CLI = Actor(None, COMMAND_LINE, COMMAND_LINE)


class Refused(Exception):
    """Not allowed; the message says why."""


class AlreadyDone(Refused):
    """Nothing to do: the report is resolved, the account already in that state, or gone."""


def is_staff(user: User | None) -> bool:
    """May see /admin: a moderator or admin who is not suspended."""
    return user is not None and user.role in STAFF and user.suspended_at is None


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role)


def refusal(actor: Actor, action: str, target: User | None = None) -> str | None:
    """Why `actor` may not do `action` to `target` (an account, or a report's account)."""
    if action in ADMIN_ONLY and RANK[actor.role] < RANK["admin"]:
        return "Only administrators can do that."
    if target is None:
        return None
    if target.id == actor.id:
        return "You cannot do that to your own account."
    if RANK[target.role] >= RANK[actor.role]:
        return f"You cannot act on the account of {ARTICLE[target.role]} {target.role}."
    return None


def check(actor: Actor, action: str, target: User | None = None) -> None:
    if message := refusal(actor, action, target):
        raise Refused(message)


async def _log(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target: User,
    reason: str,
    *,
    report_id: int | None = None,
    detail: str = "",
) -> None:
    await queries.log(
        session,
        moderator_id=actor.id,
        moderator_name=actor.name,
        action=action,
        account_id=target.id,
        account_name=target.username,
        report_id=report_id,
        detail=detail,
        reason=reason,
        now=utcnow(),
    )


async def dismiss(session: AsyncSession, actor: Actor, report: Report, reason: str) -> None:
    """Close a report without acting on it."""
    check(actor, "dismiss")
    if not await queries.resolve(session, actor.id, "dismissed", utcnow(), report_id=report.id):
        raise AlreadyDone("That report is already resolved.")
    await _log(session, actor, "dismiss", report.account, reason, report_id=report.id)
    await session.commit()


async def delete_reported(session: AsyncSession, actor: Actor, report: Report, reason: str) -> str:
    """Delete the post or comment a report names, its text kept in the log; which it was."""
    check(actor, "delete_post", report.account)
    if report.comment_id is not None:
        comment = await comments.get_comment(session, report.comment_id)
        if comment is None:
            raise AlreadyDone("That comment is already gone.")
        await comments.delete_comment(session, comment.id, comment.post_id, actor.id or 0)
        action, detail = "delete_comment", comment.body
    elif report.post_id is not None:
        # Found whoever may see it: a suspended author's post is hidden, not beyond reach.
        post = await session.get(Post, report.post_id)
        if post is None:
            raise AlreadyDone("That post is already gone.")
        await posts.delete_post(session, post.id)
        action, detail = "delete_post", post.body
    else:
        raise Refused("This report is about an account: suspend or delete it instead.")
    await queries.resolve(session, actor.id, action, utcnow(), report_id=report.id)
    await _log(session, actor, action, report.account, reason, report_id=report.id, detail=detail)
    await session.commit()
    return action


async def suspend(
    session: AsyncSession, actor: Actor, target: User, reason: str, report_id: int | None = None
) -> None:
    """Suspend: every session ends now (open streams close), and every app's token (the
    client API), the account's open reports are resolved, and no login or old cookie works
    until it is unsuspended."""
    check(actor, "suspend", target)
    if not await queries.set_suspended(session, target.id, utcnow()):
        raise AlreadyDone(f"{target.username} is already suspended.")
    await user_sessions.end_sessions(session, target.id)
    await oauth.revoke_all(session, target.id)
    await queries.resolve(session, actor.id, "suspend", utcnow(), account_id=target.id)
    await _log(session, actor, "suspend", target, reason, report_id=report_id)
    await session.commit()


async def unsuspend(session: AsyncSession, actor: Actor, target: User, reason: str) -> None:
    check(actor, "unsuspend", target)
    if not await queries.set_suspended(session, target.id, None):
        raise AlreadyDone(f"{target.username} is not suspended.")
    await _log(session, actor, "unsuspend", target, reason)
    await session.commit()


async def delete_account(
    session: AsyncSession,
    actor: Actor,
    target: User,
    reason: str,
    report_id: int | None = None,
    *,
    action: str = "delete_account",
) -> None:
    """Delete the account with everything it wrote; the log keeps its name. Its sessions end
    first, so that its open streams hear of it."""
    check(actor, action, target)
    await user_sessions.end_sessions(session, target.id)
    await queries.resolve(session, actor.id, action, utcnow(), account_id=target.id)
    await _log(session, actor, action, target, reason, report_id=report_id)
    await queries.delete_user(session, target.id)
    await session.commit()


async def approve(session: AsyncSession, actor: Actor, target: User, reason: str) -> None:
    """Let an account made under REGISTRATION=approval log in."""
    check(actor, "approve", target)
    if not await queries.approve(session, target.id):
        raise AlreadyDone(f"{target.username} is not waiting for approval.")
    await _log(session, actor, "approve", target, reason, detail=target.signup_reason or "")
    await session.commit()


async def reject(session: AsyncSession, actor: Actor, target: User, reason: str) -> None:
    """Refuse a waiting account: it is deleted."""
    if target.approved:
        raise AlreadyDone(f"{target.username} is not waiting for approval.")
    await delete_account(session, actor, target, reason, action="reject")


async def set_role(
    session: AsyncSession, actor: Actor, target: User, role: str, reason: str = ""
) -> None:
    if role not in ROLES:
        raise Refused(f"A role is one of {', '.join(ROLES)}, not {role!r}.")
    check(actor, "role", target)
    if RANK[role] > RANK[actor.role]:
        raise Refused("You cannot give a role above your own.")
    was = target.role  # before the UPDATE, which also updates a `target` of this session
    await queries.set_role(session, target.id, role)
    await _log(session, actor, "role", target, reason, detail=f"{was} → {role}")
    await session.commit()


def clean_reason(raw: str) -> str:
    return raw.strip()[:REASON_MAX]
