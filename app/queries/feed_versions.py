"""When each Atom feed last changed (app/models.py: FeedVersion)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of
from app.models import FeedVersion


async def known(session: AsyncSession, feed: str) -> FeedVersion | None:
    return await session.get(FeedVersion, feed)


async def changed(session: AsyncSession, feed: str, etag: str, now: datetime) -> None:
    """The feed is served with `etag` for the first time: it changed `now`. Two workers
    serving the same change at once write one time (the second finds the ETag there)."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = insert(FeedVersion).values(feed=feed, etag=etag, changed_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[FeedVersion.feed],
        set_={"etag": stmt.excluded.etag, "changed_at": stmt.excluded.changed_at},
        where=FeedVersion.etag != stmt.excluded.etag,
    )
    await session.execute(stmt)
