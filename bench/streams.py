"""Live streams under load: memory and idle CPU per open stream, and how fast a post reaches
1,000 followers' streams (docs/benchmarks.md, "Live streams").

Serves Warble as `make run` does (hypercorn.toml: two workers) on a fresh database, opens N
idle streams of N users who all follow one author, then times posts by that author from the
POST's response to the `new-post` event on every stream. Loopback only, bounded in time.

    python -m bench.streams --url sqlite+aiosqlite:///bench/results/streams.db --streams 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.clock import utcnow
from app.config import database_schema
from app.db import make_engine
from app.migrate import upgrade
from app.sessions import issue_token
from bench.common import RESULTS, save
from tests.browser.server import free_port
from tests.live_client import Login, post_form, sse_request

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench streams secret"


def workers_of(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    workers = [int(pid) for pid in children]
    return [pid for pid in workers if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed(url: str, count: int) -> tuple[Login, list[Login]]:
    """An author and `count` followers, each with a session: their logins."""
    engine = make_engine(url, schema=database_schema())
    logins = []
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            now = utcnow()
            ids = []
            for n in range(count + 1):
                name = f"s{n}_{secrets.token_hex(3)}"
                row = await session.execute(
                    text(
                        "INSERT INTO users (username, email, email_normalized, password_hash, "
                        "about_me, created_at) VALUES (:n, :e, :e, 'x', '', :t) RETURNING id"
                    ),
                    {"n": name, "e": f"{name}@example.com", "t": now},
                )
                ids.append((row.scalar_one(), name))
                token = await issue_token(
                    session,
                    ids[-1][0],
                    remember=True,
                    user_agent="bench",
                    expires_at=utcnow() + timedelta(days=1),
                )
                logins.append(Login(token, SECRET))
            author_id = ids[0][0]
            await session.execute(
                text(
                    "INSERT INTO follows (follower_id, followed_id, created_at) VALUES (:f, :a, :t)"
                ),
                [{"f": user_id, "a": author_id, "t": now} for user_id, _ in ids[1:]],
            )
            await session.commit()
    finally:
        await engine.dispose()
    return logins[0], logins[1:]


def server_post_ms(log: Path) -> list[float]:
    """The server's own time for each POST /posts, from the access log (`%(D)sus`)."""
    lines = log.read_text().splitlines()
    return [int(line.rsplit(" ", 1)[1][:-2]) / 1000 for line in lines if '"POST /posts ' in line]


async def fan_out(
    port: int, author: Login, streams: list[Any], posts: int, log: Path
) -> dict[str, Any]:
    """Post `posts` times; for each, the delay from the POST's response to each stream.

    The POST's latency is the server's own (its access log line), so the client's work on
    the open streams, on the same two cores, does not count as the server's.
    """
    delays: list[float] = []
    post_ms: list[float] = []
    logged = len(server_post_ms(log))
    for n in range(posts):
        waiting = [asyncio.create_task(stream.next_event("new-post", 30)) for stream in streams]
        await asyncio.sleep(0.5)  # every reader parked on its socket before the clock starts
        started = time.perf_counter()
        status = await post_form(port, "/posts", author, {"body": f"Bench post {n}"})
        answered = time.perf_counter()
        assert status == 302, status
        post_ms.append((answered - started) * 1000)
        for arrived in await asyncio.gather(*waiting):
            delays.append((arrived - answered) * 1000)
    delays.sort()
    await asyncio.sleep(0.5)  # the access log is written after the response
    server_ms = server_post_ms(log)[logged:]
    return {
        "post_ms_median": statistics.median(post_ms),
        "post_server_ms_median": statistics.median(server_ms),
        "post_server_ms_max": max(server_ms),
        "delivery_ms_p50": delays[len(delays) // 2] if delays else None,
        "delivery_ms_p99": delays[int(len(delays) * 0.99) - 1] if delays else None,
        "deliveries": len(delays),
    }


async def run(url: str, count: int, posts: int) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    author, followers = await seed(url, count)
    port = free_port()
    log = RESULTS / f"streams-{count}-access.log"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "SECURE_COOKIES": "false"}
    env["RATE_LIMITS"] = "off"
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [
            *(sys.executable, "-m", "hypercorn", "-c", "hypercorn.toml"),
            *("--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "app:create_app()"),
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    result: dict[str, Any] = {"streams": count, "url": url.split("://")[0]}
    try:
        await asyncio.sleep(3)  # two workers starting
        workers = workers_of(server.pid)
        result["workers"] = len(workers)
        base_rss = sum(rss_kib(pid) for pid in workers)
        few = [await sse_request(port, "/events?page=home", login) for login in followers[:10]]
        result["ten_followers"] = await fan_out(port, author, few, posts, log)
        many = few + [
            await sse_request(port, "/events?page=home", login) for login in followers[10:]
        ]
        await asyncio.sleep(2)
        rss = sum(rss_kib(pid) for pid in workers)
        result["rss_kib_per_stream"] = round((rss - base_rss) / count, 1)
        cpu_before = sum(cpu_seconds(pid) for pid in workers)
        await asyncio.sleep(10)
        idle = sum(cpu_seconds(pid) for pid in workers) - cpu_before
        result["idle_cpu_percent"] = round(idle / 10 * 100, 2)
        result["all_followers"] = await fan_out(port, author, many, posts, log)
        for stream in many:
            stream.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=5)
    parser.add_argument("--save")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.streams, args.posts))
    print(result)
    if args.save:
        save(args.save, result)


if __name__ == "__main__":
    main()
