"""Fill a database with the benchmark dataset: Warble's migrations, then COPY or executemany.

Posts carry their tags (post_tags, from app/text.py's own parser, as posting would write them)
and their search index: on PostgreSQL the generated column fills as rows arrive and its GIN
index is rebuilt with the others; on SQLite the FTS5 table is rebuilt once after the load.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from app.config import database_schema, database_url
from app.db import make_engine
from app.migrate import alembic_config
from app.text import Tag, hashtags
from bench.dataset import Dataset, Spec, stamp

TABLES = ("users", "follows", "blocks", "mutes", "posts", "post_tags", "comments", "likes")
# One argon2 hash for every seeded account (hashing 100,000 would take hours): the password is
# "warble-bench", so any seeded user can also log in through the real form.
PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$"
    "CUCNTQp9zQy8hN+gE0Exog$5E0ksJXkWMujdErLBWKsGKV0pbnaJWf3TQn8wKkZfHs"
)
COLUMNS = {
    "users": (
        "id",
        "username",
        "email",
        "created_at",
        "last_seen_at",
        "password_hash",
        "about_me",
        "email_normalized",
    ),
    "follows": ("follower_id", "followed_id", "created_at"),
    "blocks": ("blocker_id", "blocked_id", "created_at"),
    "mutes": ("muter_id", "muted_id", "created_at"),
    "posts": ("id", "author_id", "body", "created_at"),
    "post_tags": ("post_id", "tag", "display", "author_id", "created_at"),
    "comments": ("id", "post_id", "author_id", "body", "created_at"),
    "likes": ("post_id", "user_id", "created_at"),
}


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        counts = ", ".join(f"{t} {n:,}" for t, n in self.counts.items())
        steps = ", ".join(f"{s} {v:.1f}s" for s, v in self.seconds.items())
        return f"seeded: {counts}\ntook: {steps}"


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _rows(table: str, dataset: Dataset) -> Iterator[list[tuple[Any, ...]]]:
    if table == "users":
        for chunk in dataset.users():
            yield [(*row, PASSWORD_HASH, "", row[2]) for row in chunk]  # emails are lower-case
    else:
        yield from getattr(dataset, table)()


def _chunks(dataset: Dataset) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) for every table in load order; each chunk of posts is followed by the
    tags of its posts."""
    tags_of: dict[str, list[Tag]] = {}
    for table in TABLES:
        if table == "post_tags":
            continue
        for chunk in _rows(table, dataset):
            yield table, chunk
            if table == "posts":
                rows = []
                for post_id, author, body, at in chunk:
                    if body not in tags_of:
                        tags_of[body] = hashtags(body)
                    rows += [(post_id, t.key, t.display, author, at) for t in tags_of[body]]
                yield "post_tags", rows


async def create_database(url: str) -> None:
    """PostgreSQL: create the named database if it does not exist yet (as `createdb` would)."""
    parsed = make_url(url)
    try:
        await (await asyncpg.connect(asyncpg_dsn(url))).close()
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(
            asyncpg_dsn(parsed.set(database="postgres").render_as_string(False))
        )
        try:
            await admin.execute(f'CREATE DATABASE "{parsed.database}"')
        finally:
            await admin.close()


async def migrate(url: str, schema: str | None, *, reset: bool) -> None:
    """Bring the schema to head through Warble's own migrations (from base, with reset)."""

    def run(connection: Connection) -> None:
        config = alembic_config(connection=connection)
        if reset:
            command.downgrade(config, "base")
        command.upgrade(config, "head")

    engine = make_engine(url, schema=schema, foreign_keys=False)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
            for table in TABLES:
                if await connection.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {table})")):
                    raise SystemExit(f"seed: table {table} is not empty; pass --reset to replace")
    finally:
        await engine.dispose()


# -- PostgreSQL --------------------------------------------------------------------------------

_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""
_FOREIGN_KEYS = """
SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
"""


async def load_postgres(url: str, schema: str | None, dataset: Dataset, report: Report) -> None:
    """COPY every table with secondary indexes and foreign keys dropped, then rebuild them.

    The definitions are read back from the migrated schema, so the result is exactly what the
    migrations create; building an index once is much cheaper than maintaining it per row.
    """
    settings = {"search_path": schema} if schema else {}
    conn = await asyncpg.connect(asyncpg_dsn(url), server_settings=settings)
    try:
        indexes = await conn.fetch(_INDEXES, list(TABLES))
        foreign_keys = await conn.fetch(_FOREIGN_KEYS)
        for table, name, _ in foreign_keys:
            await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            await conn.execute(f"DROP INDEX {name}")
        for table, chunk in _chunks(dataset):
            started = time.perf_counter()
            await conn.copy_records_to_table(
                table, records=chunk, columns=list(COLUMNS[table]), schema_name=schema
            )
            spent = time.perf_counter() - started
            report.seconds[f"copy {table}"] = report.seconds.get(f"copy {table}", 0) + spent
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            await conn.execute(definition)
        for table, name, definition in foreign_keys:
            await conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        report.seconds["indexes and keys"] = time.perf_counter() - started
        for table in ("users", "posts", "comments"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        started = time.perf_counter()
        # VACUUM sets the visibility map, without which index-only scans still visit the heap.
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        report.seconds["vacuum analyze"] = time.perf_counter() - started
        for table in TABLES:
            report.counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()


# -- SQLite ------------------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    return stamp(value) if hasattr(value, "tzinfo") else value


def _sqlite_rows(chunk: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(_sqlite_value(v) for v in row) for row in chunk]


def load_sqlite(path: str, dataset: Dataset, report: Report) -> None:
    """executemany in one transaction, secondary indexes rebuilt after (as for PostgreSQL);
    the search triggers are off for the load, and the FTS5 index is rebuilt once."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        names = ", ".join("?" * len(TABLES))
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            f"AND sql IS NOT NULL AND tbl_name IN ({names})",
            TABLES,
        ).fetchall()
        for name, definition in indexes:
            kind = "TRIGGER" if definition.upper().startswith("CREATE TRIGGER") else "INDEX"
            db.execute(f'DROP {kind} "{name}"')
        for table, chunk in _chunks(dataset):
            started = time.perf_counter()
            columns = COLUMNS[table]
            marks = ", ".join("?" * len(columns))
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            db.executemany(insert, _sqlite_rows(chunk))
            spent = time.perf_counter() - started
            report.seconds[f"insert {table}"] = report.seconds.get(f"insert {table}", 0) + spent
        started = time.perf_counter()
        db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')")
        report.seconds["search index"] = time.perf_counter() - started
        started = time.perf_counter()
        for _, definition in indexes:
            db.execute(definition)
        db.commit()
        db.execute("ANALYZE")
        db.commit()
        report.seconds["indexes and analyze"] = time.perf_counter() - started
        for table in TABLES:
            report.counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


async def seed(url: str, spec: Spec, *, schema: str | None = None, reset: bool = False) -> Report:
    report = Report()
    started = time.perf_counter()
    if make_url(url).get_backend_name() == "postgresql":
        await create_database(url)
    await migrate(url, schema, reset=reset)
    report.seconds["migrate"] = time.perf_counter() - started
    dataset = Dataset(spec)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        await asyncio.to_thread(load_sqlite, str(parsed.database), dataset, report)
    else:
        await load_postgres(url, schema, dataset, report)
    report.seconds["total"] = time.perf_counter() - started
    return report


def spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=Spec.users)
    parser.add_argument("--posts", type=int, default=Spec.posts)
    parser.add_argument("--comments", type=int, default=None, help="default: posts / 10")
    parser.add_argument("--seed", type=int, default=Spec.seed)


def spec_from(args: argparse.Namespace) -> Spec:
    return Spec(users=args.users, posts=args.posts, comments=args.comments, seed=args.seed)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=database_url(), help="default: $DATABASE_URL")
    parser.add_argument("--schema", default=database_schema(), help="default: $DATABASE_SCHEMA")
    parser.add_argument("--reset", action="store_true", help="migrate down to base first")
    spec_arguments(parser)
    args = parser.parse_args(argv)
    print(asyncio.run(seed(args.url, spec_from(args), schema=args.schema, reset=args.reset)))


if __name__ == "__main__":
    main()
