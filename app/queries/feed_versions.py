"""When each Atom feed last changed (app/models.py: FeedVersion)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of
from app.models import FeedVersion


async def known(session: AsyncSession, feed: str) -> FeedVersion | None:
    return await session.get(FeedVersion, feed)


async def record(session: AsyncSession, feed: str, etag: str, now: datetime) -> datetime:
    """The feed is served with `etag`: when it was first served so, as the table keeps it.

    A new ETag is recorded at `now`, or a second after the version before when `now` is not
    later (HTTP dates have whole seconds: two versions must never share one). The first
    statement writes, so it takes SQLite's write lock; PostgreSQL's row lock comes with the
    read after it: two requests seeing a change at once record it once, and each answers with
    the time the table holds.
    """
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    first = insert(FeedVersion).values(feed=feed, etag=etag, changed_at=now)
    returning = first.on_conflict_do_nothing().returning(FeedVersion.changed_at)
    created: datetime | None = await session.scalar(returning)
    if created is not None:
        return created
    locked = select(FeedVersion).where(FeedVersion.feed == feed).with_for_update()
    version = (await session.scalars(locked.execution_options(populate_existing=True))).one()
    if version.etag != etag:
        version.etag = etag
        version.changed_at = max(now, version.changed_at + timedelta(seconds=1))
        await session.flush()
    return version.changed_at
