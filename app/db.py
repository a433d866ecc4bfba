"""Database plumbing: the declarative Base, the per-app engine and the request's session.

Which transaction a request gets is chosen by the code that needs it, never guessed from the
HTTP method:

- `read_session()` for reading. On PostgreSQL it runs in autocommit, so a page that only
  reads costs no BEGIN/ROLLBACK round trips (docs/benchmarks.md); SQLite's driver starts no
  transaction for reads anyway.
- `await write_session()` before the first write. It is transactional: the view commits once,
  at the end, and whatever it did not commit is rolled back when the request ends. Opened
  after reads, it takes the read session's place (its objects stay loaded, detached), so a
  request holds one connection at a time and reads after it see its own writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quart import Quart, current_app, g
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints make SQLite and PostgreSQL migrations produce the same names, and let
# batch-mode migrations on SQLite refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Warble stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_pragmas(foreign_keys: bool) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside a writer; busy_timeout waits for a lock instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    return on_connect


def make_engine(
    url: str, *, pool_size: int = 5, schema: str | None = None, foreign_keys: bool = True
) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, a busy timeout and (unless migrating) foreign keys.

    `schema` puts Warble's tables in a PostgreSQL schema other than `public`.
    """
    parsed = make_url(url)
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        options = {"pool_size": pool_size, "max_overflow": pool_size}
        if schema:
            options["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(foreign_keys))
    else:
        replace_dead_connections_at_checkout(engine)
    return engine


# A pooled connection that sat unused this long is pinged before a request gets it.
IDLE_PING_SECONDS = 30.0


def replace_dead_connections_at_checkout(engine: AsyncEngine) -> None:
    """A connection the database closed while it sat in the pool (a restart with no request
    meanwhile) is replaced when a request takes it, instead of failing that request with a 503.

    In place of SQLAlchemy's pool_pre_ping, which on asyncpg costs three round trips per
    request (BEGIN, an empty statement, ROLLBACK): a connection the server closed is seen
    closed without asking (asyncpg reads the server's goodbye as it arrives), and only one
    that sat idle for IDLE_PING_SECONDS, which could have died without a word (a dropped
    network path), is pinged. docs/benchmarks.md, "The web layer", has what this bought.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _check_alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.driver_connection.is_closed():
            raise DisconnectionError("closed by the database")
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since > IDLE_PING_SECONDS:
            try:
                sync_engine.dialect.do_ping(dbapi_connection)
            except Exception as error:
                raise DisconnectionError("no answer to a ping") from error


def sessionmakers(
    engine: AsyncEngine,
) -> tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]:
    """Sessions for writing (transactional) and for reading (autocommit on PostgreSQL)."""
    reader = engine
    if engine.dialect.name == "postgresql":
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    return (
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(reader, expire_on_commit=False),
    )


def init_app(app: Quart) -> None:
    """Create the engine inside the serving loop (asyncpg pools are bound to their loop)."""

    @app.before_serving
    async def open_engine() -> None:
        engine = make_engine(
            app.config["DATABASE_URL"],
            pool_size=app.config["DB_POOL_SIZE"],
            schema=app.config["DATABASE_SCHEMA"],
        )
        app.extensions["db_engine"] = engine
        app.extensions["db_writer"], app.extensions["db_reader"] = sessionmakers(engine)

    @app.after_serving
    async def close_engine() -> None:
        await app.extensions.pop("db_engine").dispose()

    @app.teardown_request
    async def close_session(_exc: BaseException | None) -> None:
        session: AsyncSession | None = g.pop("db_session", None)
        g.pop("db_writes", None)
        if session is not None:
            await session.close()  # rolls back anything the view did not commit


def read_session() -> AsyncSession:
    """The request's session for reading (the write session, once one is open)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_reader"]()
    session: AsyncSession = g.db_session
    return session


async def write_session() -> AsyncSession:
    """The request's transactional session; the caller commits."""
    if g.get("db_writes"):
        session: AsyncSession = g.db_session
        return session
    reader: AsyncSession | None = g.pop("db_session", None)
    if reader is not None:
        await reader.close()  # give its connection back before taking one to write with
    writer: AsyncSession = current_app.extensions["db_writer"]()
    g.db_session, g.db_writes = writer, True
    return writer


async def release_session() -> None:
    """Close the request's session now (a long response, such as a stream, holds none)."""
    g.pop("db_writes", None)
    session: AsyncSession | None = g.pop("db_session", None)
    if session is not None:
        await session.close()


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def get_engine() -> AsyncEngine:
    engine: AsyncEngine = current_app.extensions["db_engine"]
    return engine
