"""Every read and write Warble makes: async functions taking the session first; none commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User


def auth_id_for(user: User) -> str:
    return str(user.id)


async def get_user_by_auth_id(session: AsyncSession, auth_id: str) -> User | None:
    try:
        user_id = int(auth_id)
    except ValueError:
        return None
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    stmt = select(User).where(func.lower(User.username) == username.lower())
    return await session.scalar(stmt)


async def username_taken(session: AsyncSession, username: str) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    return await session.scalar(stmt) is not None


async def email_taken(session: AsyncSession, email: str, *, except_user_id: int = 0) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email.lower(), User.id != except_user_id)
    return await session.scalar(stmt) is not None


async def create_user(session: AsyncSession, username: str, email: str, password_hash: str) -> User:
    user = User(username=username, email=email, password_hash=password_hash)
    session.add(user)
    await session.flush()
    return user


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def touch_last_seen(session: AsyncSession, user: User, when: datetime) -> None:
    user.last_seen_at = when
    await session.flush()
