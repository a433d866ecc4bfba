"""Logins: the server-side session rows that session cookies name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from app.models import User, UserSession
from app.queries import events, notifications


async def create_session(
    session: AsyncSession,
    *,
    user_id: int,
    token_hash: str,
    remember: bool,
    user_agent: str,
    now: datetime,
    expires_at: datetime,
) -> UserSession:
    login = UserSession(
        user_id=user_id,
        token_hash=token_hash,
        remember=remember,
        user_agent=user_agent,
        created_at=now,
        last_used_at=now,
        expires_at=expires_at,
    )
    session.add(login)
    await session.flush()
    return login


# Built once: a statement made per request would have SQLAlchemy work out its cache key again
# on every page (docs/benchmarks.md, "The web layer").
ACTIVE_SESSION = (
    select(UserSession, notifications.unread_count_of(User.id))
    .join(UserSession.user)
    .options(contains_eager(UserSession.user))
    .where(
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.expires_at > bindparam("now"),
        User.suspended_at.is_(None),
        User.approved,
    )
)


async def active_session(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[UserSession, int] | None:
    """The unexpired session with this token, with its user and their unread notification
    count (for the navigation), in one statement. A suspended account's, or one still waiting
    for approval, is no session: suspending deletes the rows too, and this check makes a
    cookie worthless on the next request even if a login raced the suspension."""
    row = (await session.execute(ACTIVE_SESSION, {"token_hash": token_hash, "now": now})).first()
    return (row[0], row[1]) if row else None


async def alive(session: AsyncSession, session_ids: list[int], now: datetime) -> set[int]:
    """Which of these sessions have not ended (live streams ask for all of theirs at once)."""
    stmt = select(UserSession.id).where(
        UserSession.id.in_(session_ids), UserSession.expires_at > now
    )
    return set(await session.scalars(stmt))


async def touch(
    session: AsyncSession, session_id: int, now: datetime, expires_at: datetime | None
) -> None:
    """Note a use; an idle-expiring session (expires_at given) is extended."""
    values: dict[str, datetime] = {"last_used_at": now}
    if expires_at is not None:
        values["expires_at"] = expires_at
    await session.execute(update(UserSession).where(UserSession.id == session_id).values(values))


async def sessions_of(session: AsyncSession, user_id: int, now: datetime) -> list[UserSession]:
    """A user's unexpired sessions, most recently used first."""
    stmt = (
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.expires_at > now)
        .order_by(UserSession.last_used_at.desc(), UserSession.id.desc())
    )
    return list(await session.scalars(stmt))


async def end_session(session: AsyncSession, user_id: int, session_id: int) -> bool:
    """End one of the user's sessions; False when it is not theirs (or already gone)."""
    stmt = (
        delete(UserSession)
        .where(UserSession.id == session_id, UserSession.user_id == user_id)
        .returning(UserSession.id)
    )
    if await session.scalar(stmt) is None:
        return False
    await events.publish(session, "session_end", user_id=user_id, session_id=session_id)
    return True


async def end_sessions(session: AsyncSession, user_id: int, *, except_id: int = 0) -> None:
    """End every session of the user (but `except_id`)."""
    await session.execute(
        delete(UserSession).where(UserSession.user_id == user_id, UserSession.id != except_id)
    )
    await events.publish(session, "session_end", user_id=user_id)


async def prune_expired(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at <= now)
    )
