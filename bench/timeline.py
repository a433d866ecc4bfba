"""Time Warble's home timeline beside the tutorial's query and raw SQL, on the same viewers."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import database_schema, database_url
from app.db import make_engine, sessionmakers
from app.pagination import FIRST, Cursor
from app.queries import timeline
from bench import shapes, writes
from bench.common import KINDS, Viewer, sample_viewers, save, summary
from bench.explain import explain_warble
from bench.seed import asyncpg_dsn

DEEP_PAGE = 50
SLOW = 0.010  # a shape whose warm median is slower (seconds) runs only in `slow_rounds` rounds
WARM_CALLS = 3  # calls that classify a shape: their median, after the check's cold first call
# The compared pair: timed in every round whatever this machine makes of them, so each Warble
# figure has its raw figure from the same rounds (a slow machine once put Warble in the slow
# class on one cold call, and measured it only after the tutorial had flushed the caches).
ALWAYS = {"warble", "raw"}
THROUGHPUT = ["warble", "raw"]
GOAL_RATIO = 1.5  # the timeline's goal: Warble's median within this of raw asyncpg's

Method = Callable[[Viewer, int, Cursor], Awaitable[list[shapes.Row] | None]]


class Mismatch(AssertionError):
    """Two query shapes returned different rows for the same viewer and page."""


@dataclass
class Case:
    viewer: Viewer
    page: int
    cursor: Cursor
    slow: set[str] = field(default_factory=set)


@dataclass
class Bench:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    methods: dict[str, Method]
    cases: list[Case]
    samples: dict[tuple[str, str, int], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )


def warble(sessions: async_sessionmaker[AsyncSession]) -> Method:
    """Warble's query path as a request runs it: a new session, home_timeline, close."""

    async def run(viewer: Viewer, _page: int, cursor: Cursor) -> list[shapes.Row]:
        async with sessions() as session:
            page = await timeline.home_timeline(session, viewer.user_id, cursor)
        return [(i.post.id, i.post.author.username, i.comment_count) for i in page.items]

    return run


def tutorial(sessions: async_sessionmaker[AsyncSession], *, count: bool) -> Method:
    async def run(viewer: Viewer, page: int, _cursor: Cursor) -> list[shapes.Row] | None:
        async with sessions() as session:
            if count:
                await session.scalar(shapes.tutorial_count(viewer.user_id))
                return None
            return await shapes.tutorial(session, viewer.user_id, page, count=False)

    return run


def grouped(sessions: async_sessionmaker[AsyncSession]) -> Method:
    async def run(viewer: Viewer, page: int, _cursor: Cursor) -> list[shapes.Row]:
        async with sessions() as session:
            result = await session.execute(shapes.tutorial_grouped(viewer.user_id, page))
            return [tuple(row) for row in result]  # type: ignore[misc]

    return run


def raw_postgres(conn: asyncpg.Connection, shape: str) -> Method:
    async def run(viewer: Viewer, _page: int, cursor: Cursor) -> list[shapes.Row]:
        sql = shape
        if shape == "best":
            probe = viewer.followees <= timeline.PROBE_FOLLOWEES_MAX["postgresql"]
            sql = shapes.LATERAL if probe else shapes.SCAN
        return await shapes.raw_postgres(conn, sql, viewer.user_id, cursor)

    return run


def raw_sqlite(conn: aiosqlite.Connection) -> Method:
    """The best SQLite shape for the viewer (Warble's own threshold)."""

    async def run(viewer: Viewer, _page: int, cursor: Cursor) -> list[shapes.Row]:
        probe = viewer.followees <= timeline.PROBE_FOLLOWEES_MAX["sqlite"]
        sql = shapes.SQLITE_PROBE if probe else shapes.SQLITE_SCAN
        return await shapes.raw_sqlite(conn, sql, viewer.user_id, cursor)

    return run


async def deep_cursor(sessions: async_sessionmaker[AsyncSession], viewer: Viewer) -> Cursor | None:
    """Where page DEEP_PAGE starts, walking Warble's own pages (None: the timeline is shorter)."""
    cursor: Cursor | None = FIRST
    for _ in range(DEEP_PAGE - 1):
        async with sessions() as session:
            page = await timeline.home_timeline(session, viewer.user_id, cursor or FIRST)
        cursor = page.next
        if cursor is None:
            return None
    return cursor


async def check(bench: Bench) -> list[dict[str, Any]]:
    """Every shape must return the same rows before any is timed; also finds the slow ones."""
    checked: list[dict[str, Any]] = []
    grouped_kinds: set[str] = set()
    for case in bench.cases:
        results: dict[str, list[shapes.Row]] = {}
        for name, method in bench.methods.items():
            if name == "tutorial-groupby":
                # Seconds per call at full scale: checked once per kind, on page 1.
                if case.page != 1 or case.viewer.kind in grouped_kinds:
                    continue
                grouped_kinds.add(case.viewer.kind)
            started = time.perf_counter()
            rows = await method(case.viewer, case.page, case.cursor)
            cold = time.perf_counter() - started
            if name not in ALWAYS and cold > SLOW and await _slow_when_warm(method, case):
                case.slow.add(name)
            if rows is not None:
                results[name] = rows
        reference = results["warble"]
        for name, rows in results.items():
            if rows != reference:
                raise Mismatch(f"{name} differs from warble for {case.viewer} page {case.page}")
        if case.page == 1 and not reference:
            raise Mismatch(f"empty first page for {case.viewer}")
        checked.append(
            {
                "kind": case.viewer.kind,
                "page": case.page,
                "rows": len(reference),
                "same": sorted(results),
            }
        )
    return checked


async def _slow_when_warm(method: Method, case: Case) -> bool:
    """Is the median of WARM_CALLS calls slower than SLOW? (Stops at a call ten times over.)"""
    times = []
    for _ in range(WARM_CALLS):
        started = time.perf_counter()
        await method(case.viewer, case.page, case.cursor)
        times.append(time.perf_counter() - started)
        if times[-1] > 10 * SLOW:
            return True
    return statistics.median(times) > SLOW


async def measure(bench: Bench, rounds: int, slow_rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    stride = max(1, rounds // max(1, slow_rounds))
    names = [n for n in bench.methods if n != "tutorial-groupby"]
    for number in range(rounds):
        for case in bench.cases:
            rng.shuffle(names)  # no shape always runs first (or last) on a warm cache
            for name in names:
                if name in case.slow and number % stride:
                    continue
                started = time.perf_counter()
                await bench.methods[name](case.viewer, case.page, case.cursor)
                elapsed = time.perf_counter() - started
                bench.samples[name, case.viewer.kind, case.page].append(elapsed)


async def measure_grouped(bench: Bench, repeats: int) -> None:
    method = bench.methods["tutorial-groupby"]
    seen: set[str] = set()
    for case in bench.cases:
        if case.page != 1 or case.viewer.kind in seen:
            continue
        seen.add(case.viewer.kind)
        for _ in range(repeats):
            started = time.perf_counter()
            await method(case.viewer, case.page, case.cursor)
            elapsed = time.perf_counter() - started
            bench.samples["tutorial-groupby", case.viewer.kind, 1].append(elapsed)


async def throughput(bench: Bench, names: list[str], seconds: float) -> dict[str, float]:
    """Pages per second on one connection, alternating 0.5 s blocks so drift hits all alike."""
    calls = dict.fromkeys(names, 0)
    spent = dict.fromkeys(names, 0.0)
    cases = bench.cases
    index = 0
    while min(spent.values()) < seconds:
        for name in names:
            method = bench.methods[name]
            started = time.perf_counter()
            while time.perf_counter() - started < 0.5:
                case = cases[index % len(cases)]
                index += 1
                await method(case.viewer, case.page, case.cursor)
                calls[name] += 1
            spent[name] += time.perf_counter() - started
    return {name: calls[name] / spent[name] for name in names}


async def run(
    url: str,
    schema: str | None = None,
    *,
    viewers: int = 5,
    rounds: int = 100,
    slow_rounds: int = 10,
    seed: int = 5,
    groupby: int = 0,
    write_samples: int = 100,
    throughput_seconds: float = 5.0,
    explain: bool = True,
    kinds: tuple[str, ...] = KINDS,
) -> dict[str, Any]:
    engine = make_engine(url, schema=schema)
    # Warble's path as a GET request runs it: the reader session (autocommit on PostgreSQL).
    _, sessions = sessionmakers(engine)
    postgres = engine.dialect.name == "postgresql"
    raw: Any
    if postgres:
        settings = {"search_path": schema} if schema else {}
        raw = await asyncpg.connect(asyncpg_dsn(url), server_settings=settings)
    else:
        raw = await aiosqlite.connect(str(make_url(url).database))
    try:
        methods: dict[str, Method] = {
            "warble": warble(sessions),
            "tutorial": tutorial(sessions, count=False),
            "tutorial-count": tutorial(sessions, count=True),
        }
        if postgres:
            methods |= {
                "raw": raw_postgres(raw, "best"),
                "raw-lateral": raw_postgres(raw, shapes.LATERAL),
                "raw-scan": raw_postgres(raw, shapes.SCAN),
            }
        else:
            methods["raw"] = raw_sqlite(raw)
        if groupby:
            methods["tutorial-groupby"] = grouped(sessions)
        sampled = await sample_viewers(engine, viewers, seed, kinds)
        cases = [Case(v, 1, FIRST) for v in sampled]
        for viewer in sampled:
            if (deep := await deep_cursor(sessions, viewer)) is not None:
                cases.append(Case(viewer, DEEP_PAGE, deep))
        bench = Bench(engine, sessions, methods, cases)
        checked = await check(bench)
        await measure(bench, rounds, slow_rounds, seed)
        if groupby:
            await measure_grouped(bench, groupby)
        result: dict[str, Any] = {
            "backend": engine.dialect.name,
            "viewers": [vars(v) for v in sampled],
            "pages": sorted({c.page for c in cases}),
            "checked": checked,
            "timeline": {
                f"{name} {kind} p{page}": summary(s)
                for (name, kind, page), s in bench.samples.items()
            },
            "throughput": await throughput(bench, THROUGHPUT, throughput_seconds),
        }
        if write_samples:
            result["writes"] = await writes.measure(sessions, sampled, write_samples, seed)
        if explain:
            result["explain"] = await explain_warble(engine, sampled, cases)
        return result
    finally:
        await raw.close()
        await engine.dispose()


def ratios_to_raw(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    """Warble's median over raw asyncpg's, per viewer class and page ("typical p1": 2.1)."""
    ratios = {}
    for key, s in sorted(figures.items()):
        name, kind, page = key.split()
        raw = figures.get(f"raw {kind} {page}")
        if name == "warble" and raw:
            ratios[f"{kind} {page}"] = s["median_ms"] / raw["median_ms"]
    return ratios


def report(result: dict[str, Any]) -> str:
    lines = [f"home timeline, {result['backend']}: median / p99 ms (n)"]
    figures = result["timeline"]
    for key in sorted(figures, key=lambda k: (k.split()[1], k.split()[2], k.split()[0])):
        s = figures[key]
        name, kind, page = key.split()
        line = (
            f"  {kind:8} {page:4} {name:17} {s['median_ms']:9.2f} / {s['p99_ms']:9.2f}  ({s['n']})"
        )
        base = figures.get(f"warble {kind} {page}")
        raw = figures.get(f"raw {kind} {page}")
        if base and name != "warble":
            line += f"   x{s['median_ms'] / base['median_ms']:.2f} of warble"
        elif raw:
            line += f"   x{s['median_ms'] / raw['median_ms']:.2f} of raw"
        lines.append(line)
    ratios = ratios_to_raw(figures)
    if ratios:
        worst = max(ratios.values())
        verdict = "met" if worst <= GOAL_RATIO else "MISSED"
        lines.append(
            f"warble / raw, medians of the same rounds (goal <= {GOAL_RATIO}): "
            + ", ".join(f"{case} {ratio:.2f}" for case, ratio in ratios.items())
            + f"; worst {worst:.2f}: {verdict}"
        )
    tp = result["throughput"]
    lines.append(
        "throughput, pages/s on one connection: "
        + ", ".join(f"{n} {v:,.0f}" for n, v in tp.items())
    )
    lines.append("  of raw: " + ", ".join(f"{n} {v / tp['raw']:.0%}" for n, v in tp.items()))
    for name, s in result.get("writes", {}).items():
        lines.append(
            f"write {name:8} median {s['median_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms ({s['n']})"
        )
    for title, plan in result.get("explain", {}).items():
        lines.append(f"EXPLAIN {title}:\n{plan}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=database_url(), help="default: $DATABASE_URL")
    parser.add_argument("--schema", default=database_schema(), help="default: $DATABASE_SCHEMA")
    parser.add_argument("--viewers", type=int, default=5, help="viewers sampled per class")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--slow-rounds", type=int, default=10, help="rounds for calls > 10 ms")
    parser.add_argument("--groupby", type=int, default=0, help="time the GROUP BY shape N times")
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--throughput-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"viewer classes to measure (of {','.join(KINDS)})"
    )
    parser.add_argument("--save", default="", help="also write bench/results/NAME.json")
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.url,
            args.schema,
            viewers=args.viewers,
            rounds=args.rounds,
            slow_rounds=args.slow_rounds,
            seed=args.seed,
            groupby=args.groupby,
            write_samples=args.writes,
            throughput_seconds=args.throughput_seconds,
            kinds=tuple(args.kinds.split(",")),
        )
    )
    print(report(result))
    if args.save:
        print(f"saved {save(args.save, result)}")


if __name__ == "__main__":
    main()
