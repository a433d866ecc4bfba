"""Accounts: look-ups by id and name, uniqueness, creation and the columns users change."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Follow, Post, User
from app.queries import visibility
from app.text import normalize_email


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


USER_BY_NAME = select(User).where(func.lower(User.username) == bindparam("name"))


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(USER_BY_NAME, {"name": username.lower()})


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


async def users_named(session: AsyncSession, names: set[str]) -> list[User]:
    """The users with these (lower-cased) names: who a page's posts mention, in one statement."""
    if not names:
        return []
    stmt = select(User).where(func.lower(User.username).in_(sorted(names)))
    return list(await session.scalars(stmt))


class Counts(NamedTuple):
    followers: int
    following: int
    posts: int


async def counts_of(session: AsyncSession, user_ids: set[int]) -> dict[int, Counts]:
    """Followers, followees and posts of each user, in one statement whatever their number
    (each count reads an index: follows' two, posts' author index)."""
    if not user_ids:
        return {}
    followers = select(func.count()).where(Follow.followed_id == User.id).scalar_subquery()
    following = select(func.count()).where(Follow.follower_id == User.id).scalar_subquery()
    posts = select(func.count()).where(Post.author_id == User.id).scalar_subquery()
    stmt = select(User.id, followers, following, posts).where(User.id.in_(sorted(user_ids)))
    return {row[0]: Counts(*row[1:]) for row in await session.execute(stmt)}
