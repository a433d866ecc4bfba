"""EXPLAIN the statement Warble runs for the home timeline, for one viewer of each kind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.queries import timeline
from bench.common import Viewer
from bench.dataset import stamp


async def explain_warble(engine: AsyncEngine, viewers: list[Viewer], cases: list[Any]) -> dict:
    """The plan of Warble's statement for each viewer kind and page depth."""
    dialect = engine.dialect.name
    plans: dict[str, str] = {}
    seen: set[tuple[str, int]] = set()
    for case in cases:
        key = (case.viewer.kind, case.page)
        if key in seen:
            continue
        seen.add(key)
        title = f"{case.viewer.kind} ({case.viewer.followees} followees) page {case.page}"
        # One statement for every viewer; the database runs one of its two branches.
        values = {
            "me": case.viewer.user_id,
            "viewer": case.viewer.user_id,
            "before_at": case.cursor.at,
            "before_id": case.cursor.id,
        }
        plans[title] = await plan(engine, timeline.HOME[dialect], values)
    return plans


async def plan(engine: AsyncEngine, stmt: Any, values: dict[str, Any]) -> str:
    """The plan of `stmt` with these parameters: EXPLAIN ANALYZE on PostgreSQL (it runs),
    EXPLAIN QUERY PLAN on SQLite."""
    dialect = engine.dialect.name
    compiled = stmt.compile(dialect=engine.dialect)
    params = compiled.construct_params(values)
    args = tuple(_bind(params[name], dialect) for name in compiled.positiontup or [])
    if dialect == "postgresql":
        sql = f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}"
    else:
        sql = f"EXPLAIN QUERY PLAN {compiled}"
    async with engine.connect() as connection:
        rows = (await connection.exec_driver_sql(sql, args)).all()
    return "\n".join(row[0] if dialect == "postgresql" else row[3] for row in rows)


def _bind(value: Any, dialect: str) -> Any:
    if isinstance(value, datetime) and dialect == "sqlite":
        return stamp(value)
    return value
