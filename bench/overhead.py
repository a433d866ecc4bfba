"""Where Warble's timeline time goes beyond raw asyncpg: one step at a time, interleaved."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.config import database_schema, database_url
from app.db import make_engine, sessionmakers
from app.pagination import FIRST
from app.queries import follows, timeline
from bench import shapes
from bench.common import sample_viewers, summary
from bench.seed import asyncpg_dsn

PARAMS = {"before_at": FIRST.at, "before_id": FIRST.id}


async def run(url: str, schema: str | None, samples: int, kind: str) -> dict[str, dict]:
    engine = make_engine(url, schema=schema)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    _, reader = sessionmakers(engine)  # what a GET request uses
    settings = {"search_path": schema} if schema else {}
    raw = await asyncpg.connect(asyncpg_dsn(url), server_settings=settings)
    viewer = next(v for v in await sample_viewers(engine, 1, 5) if v.kind == kind)
    me = viewer.user_id
    stmt = timeline.HOME["postgresql"]
    probe = viewer.followees <= timeline.PROBE_FOLLOWEES_MAX["postgresql"]
    sql = shapes.LATERAL if probe else shapes.SCAN
    open_session = sessions()
    await open_session.execute(text("SELECT 1"))

    async def raw_page() -> None:
        await raw.fetch(sql, me, FIRST.at, FIRST.id)

    async def raw_select1() -> None:
        await raw.fetchval("SELECT 1")

    async def session_cycle() -> None:
        async with sessions() as session:
            await session.execute(select(1))

    async def reader_cycle() -> None:
        async with reader() as session:
            await session.execute(select(1))

    async def count() -> None:
        await follows.following_count(open_session, me)

    async def orm_page() -> None:
        result = await open_session.execute(stmt, PARAMS | {"me": me, "viewer": me})
        result.all()
        open_session.expunge_all()

    async def core_page() -> None:
        async with engine.connect() as connection:
            (await connection.execute(stmt, PARAMS | {"me": me, "viewer": me})).all()

    async def full() -> None:
        async with reader() as session:
            await timeline.home_timeline(session, me, FIRST)

    steps: dict[str, Callable[[], Awaitable[None]]] = {
        "raw asyncpg page": raw_page,
        "raw asyncpg SELECT 1": raw_select1,
        "session open+BEGIN+SELECT 1+ROLLBACK": session_cycle,
        "GET session open+SELECT 1 (autocommit)": reader_cycle,
        "following_count (open session)": count,
        "page statement, ORM rows (open session)": orm_page,
        "page statement, Core rows (own connection)": core_page,
        "home_timeline, new GET session": full,
    }
    timings: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    try:
        for number in range(samples + 20):
            random.shuffle(names)
            for name in names:
                started = time.perf_counter()
                await steps[name]()
                if number >= 20:  # the first rounds warm caches and statement caches
                    timings[name].append(time.perf_counter() - started)
    finally:
        await open_session.close()
        await raw.close()
        await engine.dispose()
    return {name: summary(values) for name, values in timings.items()} | {
        "viewer": {"kind": kind, "followees": viewer.followees}
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=database_url())
    parser.add_argument("--schema", default=database_schema())
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--kind", default="typical", choices=["typical", "heavy", "sparse"])
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.schema, args.samples, args.kind))
    print(f"viewer: {result.pop('viewer')}")
    for name, s in result.items():
        print(f"  {name:45} median {s['median_ms']:6.3f} ms  p99 {s['p99_ms']:6.3f} ms")


if __name__ == "__main__":
    main()
