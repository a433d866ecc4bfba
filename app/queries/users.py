"""Accounts: look-ups by id and name, uniqueness, creation and the columns users change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from app.queries import visibility
from app.text import normalize_email


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    stmt = select(User).where(func.lower(User.username) == username.lower())
    return await session.scalar(stmt)


async def username_taken(session: AsyncSession, username: str) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    return await session.scalar(stmt) is not None


async def email_taken(session: AsyncSession, email: str, *, except_user_id: int = 0) -> bool:
    """Is the address someone else's? Compared in its normal form (app/text.py)."""
    stmt = select(User.id).where(
        User.email_normalized == normalize_email(email), User.id != except_user_id
    )
    return await session.scalar(stmt) is not None


async def existing_usernames(session: AsyncSession, names: set[str]) -> dict[str, str]:
    """Map each lower-cased name that belongs to a user to that user's spelling."""
    if not names:
        return {}
    stmt = select(User.username).where(func.lower(User.username).in_(sorted(names)))
    return {name.lower(): name for name in await session.scalars(stmt)}


async def ids_of_names(
    session: AsyncSession, names: set[str], *, unblocked: int | None = None
) -> list[int]:
    """The ids of the users with these (lower-cased) names; with `unblocked`, only those
    with no block between them and that user, either way (whom a mention may notify)."""
    if not names:
        return []
    stmt = select(User.id).where(func.lower(User.username).in_(sorted(names)))
    if unblocked is not None:
        stmt = stmt.where(~visibility.blocked_either_way(User.id, unblocked))
    return list(await session.scalars(stmt))


async def create_user(session: AsyncSession, username: str, email: str, password_hash: str) -> User:
    user = User(
        username=username,
        email=email,
        email_normalized=normalize_email(email),
        password_hash=password_hash,
    )
    session.add(user)
    await session.flush()
    return user


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def update_profile(session: AsyncSession, user_id: int, *, about_me: str, email: str) -> None:
    values = {"about_me": about_me, "email": email, "email_normalized": normalize_email(email)}
    await session.execute(update(User).where(User.id == user_id).values(values))


async def touch_last_seen(session: AsyncSession, user_id: int, when: datetime) -> None:
    await session.execute(update(User).where(User.id == user_id).values(last_seen_at=when))
