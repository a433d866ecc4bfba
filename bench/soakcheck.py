"""The soak's verdict (bench/soak.py): its figures, from what the client saw and what the
database holds afterwards, each goal of issue 17 met or missed, and the printed summary."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from app.db import make_engine
from bench.common import percentile

if TYPE_CHECKING:
    from bench.soak import Load, Readers, Restart

GRACE = 10.0  # seconds after PostgreSQL answers again in which a 503 is still expected
SETTLE = 30.0  # seconds the streams get, after the load, to receive the last events
TOKEN = re.compile(r"soak[0-9a-f]{16}")


@dataclass(frozen=True)
class Sample:
    """The workers and the machine, every few seconds."""

    at: float  # seconds since the load began
    rss: dict[int, int]  # KiB per worker pid (empty: a worker was gone)
    cpu: float  # both workers' CPU seconds so far
    load: float  # the machine's 1-minute load average (other work shares it)


@dataclass(frozen=True)
class Request:
    kind: str
    status: int  # 0: no answer
    started: float  # seconds since the load began
    seconds: float


async def wait_for(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def _rows(url: str, query: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(text(query)))
    finally:
        await engine.dispose()


async def newest_event(url: str) -> int:
    return int((await _rows(url, "SELECT coalesce(max(id), 0) FROM events"))[0][0])


# -- the streams ---------------------------------------------------------------------------


async def expected_events(url: str, readers: Readers) -> dict[int, set[int]]:
    """What each stream should have received, by the events table: on a home page, the count
    for each notification change of its owner, and each post by someone its owner follows."""
    rows = await _rows(
        url,
        f"SELECT id, kind, actor_id, user_id FROM events WHERE id > {readers.after} "
        "AND kind IN ('notify', 'read', 'post')",
    )
    expected: dict[int, set[int]] = {user: set() for user in readers.streams}
    for event_id, kind, actor, user in rows:
        if kind == "post":
            for owner, followees in readers.followees.items():
                if actor in followees:
                    expected[owner].add(event_id)
        elif user in expected:
            expected[user].add(event_id)
    return expected


async def stream_figures(url: str, readers: Readers, restart: Restart) -> dict[str, Any]:
    """Wait (up to SETTLE) until every stream has its events, then count."""
    deadline = time.monotonic() + SETTLE
    while True:
        expected = await expected_events(url, readers)
        missing = {
            user: ids - readers.streams[user].received.keys() for user, ids in expected.items()
        }
        if not any(missing.values()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    streams = readers.streams.values()
    extra = sum(len(s.received.keys() - expected[user]) for user, s in readers.streams.items())
    return {
        "expected": sum(map(len, expected.values())),
        "received": sum(len(s.received) for s in streams),
        "missing": sum(map(len, missing.values())),
        "expected_after_restart": sum(
            1 for ids in expected.values() for i in ids if i > restart.event_id
        ),
        "missing_after_restart": sum(
            1 for ids in missing.values() for i in ids if i > restart.event_id
        ),
        "unexpected": extra,
        "duplicates": sum(s.duplicates for s in streams),
        "connects": sum(s.connects for s in streams),
        "reconnects": sum(max(0, s.connects - 1) for s in streams),
        "drops": sum(s.drops for s in streams),
        "refused_attempts": sum(s.refusals for s in streams),
        "closed_by_server": sum(s.closed for s in streams),
        "longest_silence_seconds": round(max((s.silence for s in streams), default=0.0), 1),
    }


# -- the writes ----------------------------------------------------------------------------


def _by_token(rows: list[Any]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for row_id, body in rows:
        if token := TOKEN.search(body):
            found.setdefault(token[0], []).append(row_id)
    return found


async def write_figures(url: str, load: Load) -> dict[str, dict[str, int]]:
    """Each acknowledged write, looked for by the id its answer named; tokens written twice."""
    figures = {}
    for table, acked in (("posts", load.posts), ("comments", load.comments)):
        rows = await _rows(url, f"SELECT id, body FROM {table} WHERE body LIKE 'Soak soak%'")
        stored = _by_token(rows)
        figures[table] = {
            "acknowledged": len(acked),
            "found": sum(1 for token, i in acked.items() if i in stored.get(token, [])),
            "written_twice": sum(1 for ids in stored.values() if len(ids) > 1),
            "stored_unacknowledged": len(stored.keys() - acked.keys()),
        }
    readers = ",".join(str(b.user_id) for b in load.browsers)
    for table, columns, acked_pairs in (
        ("likes", "user_id, post_id", load.likes),
        ("follows", "follower_id, followed_id", load.follows),
    ):
        where = f"WHERE {columns.split(',')[0]} IN ({readers})"
        pairs = [tuple(row) for row in await _rows(url, f"SELECT {columns} FROM {table} {where}")]
        figures[table] = {
            "acknowledged": len(acked_pairs),
            "found": len(acked_pairs & set(pairs)),
            "written_twice": len(pairs) - len(set(pairs)),  # a primary key forbids it
        }
    return figures


# -- requests, memory, the verdict ---------------------------------------------------------


def latency(requests: list[Request]) -> dict[str, float]:
    times = sorted(r.seconds for r in requests)
    if not times:
        return {"n": 0, "p50_ms": 0.0, "p99_ms": 0.0}
    return {
        "n": len(times),
        "p50_ms": round(percentile(times, 0.5) * 1e3, 1),
        "p99_ms": round(percentile(times, 0.99) * 1e3, 1),
    }


def request_figures(
    requests: list[Request], seconds: float, window: tuple[float, float]
) -> dict[str, Any]:
    """Counts per minute and status; the 5xx and failed connections, in the restart's window
    (expected, when a 503) or outside it; p50/p99 of the first and the last windows."""

    def expected(r: Request) -> bool:
        """A 503 or no answer, from a request that overlapped the restart's window."""
        overlaps = r.started <= window[1] and r.started + r.seconds >= window[0]
        return overlaps and r.status in (0, 503)

    failed = [r for r in requests if r.status == 0 or r.status >= 500]
    unexpected = [r for r in failed if not expected(r)]
    per_minute = Counter(int(r.started // 60) for r in requests)
    failed_per_minute = Counter(int(r.started // 60) for r in failed)
    # A login that began in the last second ends after it: its last requests count too.
    minutes = max([int(-(-seconds // 60)), *(m + 1 for m in per_minute)])
    span = min(600.0, seconds / 3)
    first = [r for r in requests if r.started < span]
    last = [r for r in requests if r.started >= seconds - span]
    return {
        "total": len(requests),
        "per_minute": [per_minute[m] for m in range(minutes)],
        "failed_per_minute": [failed_per_minute[m] for m in range(minutes)],
        "by_status": {str(k): v for k, v in sorted(Counter(r.status for r in requests).items())},
        "by_kind": {
            kind: latency([r for r in requests if r.kind == kind])
            for kind in sorted({r.kind for r in requests})
        },
        "failed_in_restart_window": len(failed) - len(unexpected),
        "unexpected_count": len(unexpected),
        "unexpected_failures": [  # the first hundred
            {"at": round(r.started, 1), "kind": r.kind, "status": r.status}
            for r in unexpected[:100]
        ],
        "status_500": sum(r.status == 500 for r in requests),
        "window_seconds": span,
        "first_window": latency(first),
        "last_window": latency(last),
    }


def rss_figures(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """Each worker's RSS at the baseline (5 minutes in, or a sixth of a shorter run) and at
    the end, each the lowest sample of a minute (or a sixth of the run): a login holds
    argon2's 64 MiB while it verifies, which one sample catches and the next does not."""
    span = min(60.0, seconds / 6)
    baseline_at = min(300.0, seconds / 6)

    def floor(window: list[Sample]) -> dict[int, int]:
        pids = window[0].rss if window else {}
        return {pid: min(x.rss[pid] for x in window) for pid in pids}

    with_rss = [x for x in samples if x.rss]
    base = floor([x for x in with_rss if baseline_at <= x.at < baseline_at + span])
    end = floor([x for x in with_rss if x.at >= seconds - span])
    workers = {
        str(pid): {
            "baseline_kib": kib,
            "end_kib": end.get(pid, 0),
            "growth_percent": round((end.get(pid, 0) / kib - 1) * 100, 1),
        }
        for pid, kib in base.items()
    }
    every = [floor([x for x in with_rss if t <= x.at < t + 30]) for t in range(0, int(seconds), 30)]
    return {
        "baseline_at_seconds": baseline_at,
        "floor_of_seconds": span,
        "workers": workers,
        "every_30_s": [list(rss.values()) for rss in every],
    }


def machine_figures(samples: list[Sample], requests: int) -> dict[str, float]:
    """What the workers spent, and how busy the (shared) machine was meanwhile."""
    if len(samples) < 2:
        return {}
    first, last = samples[0], samples[-1]
    cpu = last.cpu - first.cpu
    return {
        "workers_cpu_percent_of_one_core": round(cpu / (last.at - first.at) * 100, 1),
        "workers_cpu_ms_per_request": round(cpu / max(1, requests) * 1e3, 2),
        "load_average_mean": round(sum(x.load for x in samples) / len(samples), 2),
        "load_average_max": round(max(x.load for x in samples), 2),
    }


async def check(
    url: str,
    load: Load,
    readers: Readers,
    restart: Restart,
    samples: list[Sample],
    seconds: float,
    alive: bool,
    open_at_end: int,
) -> dict[str, Any]:
    window = (restart.began, restart.back + GRACE)
    result: dict[str, Any] = {
        "requests": request_figures(load.requests, seconds, window),
        "restart": {
            "at_seconds": round(restart.began, 1),
            "database_back_after_seconds": round(restart.back - restart.began, 1),
            "streams_cut": restart.cut,
            "window": [round(window[0], 1), round(window[1], 1)],
        },
        "client_late_seconds_max": round(load.late, 2),
        "rss": rss_figures(samples, seconds),
        "machine": machine_figures(samples, len(load.requests)),
        "streams": await stream_figures(url, readers, restart)
        | {"open_at_end_of_load": open_at_end},
        "writes": await write_figures(url, load),
        "workers_alive_at_end": alive,
    }
    result["goals"] = goals(result, len(readers.streams))
    return result


def goals(result: dict[str, Any], streams: int) -> list[dict[str, Any]]:
    r, s, w = result["requests"], result["streams"], result["writes"]
    growth = [x["growth_percent"] for x in result["rss"]["workers"].values()]
    first, last = r["first_window"]["p99_ms"], r["last_window"]["p99_ms"]
    ratio = last / first if first else float("inf")
    rows = [
        (
            "no 5xx or failed connection but 503s in the restart window, no 500 at all",
            f"{r['unexpected_count']} unexpected ({r['status_500']} 500s), "
            f"{r['failed_in_restart_window']} 503s or failed connections in the window",
            not r["unexpected_count"] and not r["status_500"],
        ),
        (
            "every acknowledged write is in the database",
            ", ".join(f"{k} {v['found']}/{v['acknowledged']}" for k, v in w.items()),
            all(v["found"] == v["acknowledged"] for v in w.values()),
        ),
        (
            "nothing written twice",
            ", ".join(f"{k} {v['written_twice']}" for k, v in w.items()),
            all(v["written_twice"] == 0 for v in w.values()),
        ),
        (
            "worker RSS grows < 10% after the baseline",
            ", ".join(f"{g:+.1f}%" for g in growth) or "no samples",
            len(growth) == 2 and all(g < 10 for g in growth),
        ),
        (
            "p99 of the last window within 1.2x of the first",
            f"{first} ms -> {last} ms (x{ratio:.2f})",
            ratio <= 1.2,
        ),
        (
            "every stream open at the end (the cut ones back), none closed, no event missing",
            f"{s['open_at_end_of_load']}/{streams} open, {s['missing']} of {s['expected']} "
            f"missing ({s['missing_after_restart']} of {s['expected_after_restart']} after "
            f"the restart), {result['restart']['streams_cut']} cut, {s['reconnects']} reconnects",
            s["open_at_end_of_load"] == streams and not s["closed_by_server"] and not s["missing"],
        ),
        (
            "both workers ran throughout",
            str(result["workers_alive_at_end"]),
            result["workers_alive_at_end"],
        ),
    ]
    return [{"goal": goal, "figure": figure, "met": met} for goal, figure, met in rows]


def server_log(log: Path) -> dict[str, Any]:
    """What the server's log says beside its access lines: tracebacks, by their last line."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors: Counter[str] = Counter()
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            after = itertools.islice(lines, n + 1, None)
            errors[next((x for x in after if not x.startswith(" ")), "").strip()[:120]] += 1
    return {"log": str(log), "tracebacks": dict(errors.most_common(10))}


def report(result: dict[str, Any]) -> str:
    r, s, setup = result["requests"], result["streams"], result["setup"]
    lines = [
        f"soak: {setup['minutes']} min, {setup['rate_per_second']} operations/s by "
        f"{setup['browsers']} readers, {setup['streams']} streams, {setup['workers']} workers",
        f"requests: {r['total']:,}; per minute: {' '.join(map(str, r['per_minute']))}",
        f"5xx or no answer, per minute: {' '.join(map(str, r['failed_per_minute']))}",
        "statuses: " + ", ".join(f"{k}: {v:,}" for k, v in r["by_status"].items()),
        "by kind (p50 / p99 ms): "
        + ", ".join(
            f"{k} {v['p50_ms']}/{v['p99_ms']} (n={v['n']})" for k, v in r["by_kind"].items()
        ),
        f"first {r['window_seconds']:.0f} s: p50 {r['first_window']['p50_ms']} ms, "
        f"p99 {r['first_window']['p99_ms']} ms; last {r['window_seconds']:.0f} s: "
        f"p50 {r['last_window']['p50_ms']} ms, p99 {r['last_window']['p99_ms']} ms",
        f"restart: at {result['restart']['at_seconds']} s, PostgreSQL back after "
        f"{result['restart']['database_back_after_seconds']} s; window "
        f"{result['restart']['window']}; 503s or failed connections in it: "
        f"{r['failed_in_restart_window']}; unexpected: {r['unexpected_count']}, "
        f"the first: {r['unexpected_failures'][:5]}",
        f"client fell behind its schedule by {result['client_late_seconds_max']} s at worst",
        "machine: " + ", ".join(f"{k} {v}" for k, v in result["machine"].items()),
        f"RSS (KiB, lowest of {result['rss']['floor_of_seconds']:.0f} s) at "
        f"{result['rss']['baseline_at_seconds']:.0f} s -> end: "
        + ", ".join(
            f"worker {pid} {w['baseline_kib']:,} -> {w['end_kib']:,} ({w['growth_percent']:+.1f}%)"
            for pid, w in result["rss"]["workers"].items()
        ),
        "streams: " + ", ".join(f"{k} {v}" for k, v in s.items()),
        "writes: "
        + "; ".join(
            f"{k}: " + ", ".join(f"{n} {v}" for n, v in fig.items())
            for k, fig in result["writes"].items()
        ),
        f"server: exit {result['server']['exit_code']}, tracebacks in its log: "
        f"{result['server']['tracebacks'] or 'none'}",
        "goals:",
    ]
    lines += [
        f"  [{'met' if g['met'] else 'MISSED'}] {g['goal']}: {g['figure']}" for g in result["goals"]
    ]
    return "\n".join(lines)
