"""Idempotency-Key of API posts: the post a key already made, for an hour (as Mastodon)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdempotencyKey

KEPT = timedelta(hours=1)


async def post_of(session: AsyncSession, user_id: int, key: str, now: datetime) -> int | None:
    stmt = select(IdempotencyKey.post_id).where(
        IdempotencyKey.user_id == user_id,
        IdempotencyKey.key == key,
        IdempotencyKey.created_at > now - KEPT,
    )
    return await session.scalar(stmt)


async def remember(
    session: AsyncSession, user_id: int, key: str, post_id: int, now: datetime
) -> None:
    """Keep the key (its stale ones, and an expired one of the same name, go first)."""
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.created_at <= now - KEPT
        )
    )
    session.add(IdempotencyKey(user_id=user_id, key=key, post_id=post_id, created_at=now))
    await session.flush()
