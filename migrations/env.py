"""Alembic environment: async engines, batch mode for SQLite, one lock against racing upgrades."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app import models  # registers the tables on Base.metadata
from app.config import database_schema, database_url
from app.db import Base, make_engine

config = context.config

# SQLite cannot reflect the lower(username) / lower(email) indexes, so autogenerate skips them
# there (PostgreSQL compares them). Said once here instead of on every `warble db check`.
warnings.filterwarnings("ignore", message=".*expression-based index")


def include_object(
    obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any
) -> bool:
    """Keep autogenerate off the full-text search objects, which the ORM does not declare
    (app/models.py: SEARCH_DDL): the generated column and its GIN index on PostgreSQL, the FTS5
    table and its shadow tables on SQLite."""
    if type_ == "table":
        return not (name or "").startswith(models.SEARCH_TABLE)
    if type_ == "column":
        return (obj.table.name, name) not in models.SEARCH_OBJECTS["column"]
    if type_ == "index":
        return name not in models.SEARCH_OBJECTS["index"]
    return True


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several hosts upgrading at once: the first does the work, the rest wait and no-op.
            connection.execute(text("SELECT pg_advisory_xact_lock(7215934)"))
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    # No foreign-key pragma here: a batch rebuild would otherwise cascade-delete child rows.
    engine = make_engine(url, schema=database_schema(), foreign_keys=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or database_url(),
        target_metadata=Base.metadata,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    run_migrations(connection)
else:
    asyncio.run(run_async_migrations(config.get_main_option("sqlalchemy.url") or database_url()))
