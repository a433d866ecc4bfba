"""The events table: what changed, in id order, for the live streams (app/events.py).

`publish` runs inside the writing transaction, so an event exists exactly when its change was
committed. On PostgreSQL it also sends NOTIFY with the id (delivered on commit), which wakes
every worker's listener at once; SQLite's workers poll the table instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of
from app.models import Event

# The channel is named after the schema that holds the tables, so that two Warbles sharing a
# database in different schemas (DATABASE_SCHEMA) do not wake each other's listeners.
CHANNEL_PREFIX = "warble_events:"
NOTIFY = text("SELECT pg_notify(:prefix || current_schema(), :id)")


async def publish(session: AsyncSession, kind: str, **ids: int | None) -> int:
    stmt = insert(Event).values(kind=kind, **ids).returning(Event.id)
    event_id: int = (await session.execute(stmt)).scalar_one()
    if dialect_of(session) == "postgresql":
        await session.execute(NOTIFY, {"prefix": CHANNEL_PREFIX, "id": str(event_id)})
    return event_id


async def after(session: AsyncSession, event_id: int, limit: int = 500) -> list[Event]:
    """The events after `event_id`, oldest first."""
    stmt = select(Event).where(Event.id > event_id).order_by(Event.id).limit(limit)
    return list(await session.scalars(stmt))


async def last_id(session: AsyncSession) -> int:
    return await session.scalar(select(func.max(Event.id))) or 0


async def forget_before(session: AsyncSession, when: datetime) -> None:
    await session.execute(delete(Event).where(Event.created_at < when))
