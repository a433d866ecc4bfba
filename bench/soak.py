"""Endurance soak (docs/benchmarks.md, "Endurance (soak)"): Warble served as `make run` serves
it (`warble serve`, hypercorn.toml's two workers) on a private PostgreSQL cluster, under steady
mixed traffic and open event streams; half-way through, PostgreSQL is restarted. Afterwards
every acknowledged write is looked for in the database, and every stream's events are
compared with the events table (bench/soakcheck.py). Loopback only, bounded in time; exits
non-zero when a goal is missed.

    python -m bench.soak --minutes 30 --streams 500 --save soak-30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.clock import utcnow
from app.db import make_engine
from app.queries import timeline
from app.sessions import issue_token
from bench import soakcheck
from bench.client import FORM_CSRF, Browser, EventStream
from bench.cluster import Cluster
from bench.common import RESULTS, save
from bench.dataset import COMMON_WORDS, Spec
from bench.seed import seed
from bench.streams import cpu_seconds, rss_kib, workers_of
from tests.browser.server import free_port
from tests.live_client import CSRF, Login

ROOT = Path(__file__).resolve().parent.parent
WARBLE = str(Path(sys.executable).with_name("warble"))
SECRET = "warble soak secret"  # fixed, so the soak can sign its readers' cookies
PASSWORD = "warble-bench"  # every seeded account's (bench/seed.py)
SPEC = Spec(users=3_000, posts=30_000)
# What a reader does, by weight (issue 17): page reads, writes, follows, logins.
MIX = {"read": 80, "write": 10, "follow": 5, "login": 5}
READS = ("home", "explore", "profile", "post", "search")
WRITES = ("post", "comment", "like")
NEW_ID = {
    "post": re.compile(r'<article[^>]* id="post-(\d+)"'),
    "comment": re.compile(r'id="comment-(\d+)"'),
}


@dataclass
class Load:
    """What the readers did, and every write the server acknowledged."""

    port: int
    rng: random.Random
    browsers: list[Browser]
    spec: Spec
    started: float = field(default_factory=time.monotonic)
    requests: list[soakcheck.Request] = field(default_factory=list)
    posts: dict[str, int] = field(default_factory=dict)  # token -> id (acknowledged)
    comments: dict[str, int] = field(default_factory=dict)
    likes: set[tuple[int, int]] = field(default_factory=set)  # (user, post)
    follows: set[tuple[int, int]] = field(default_factory=set)  # (follower, followed)
    late: float = 0.0  # how far behind its schedule the client fell, at worst (seconds)

    def note(self, kind: str, status: int, started: float, ended: float) -> None:
        self.requests.append(
            soakcheck.Request(kind, status, started - self.started, ended - started)
        )

    async def fetch(self, kind: str, browser: Browser, method: str, path: str, **kw: Any) -> Any:
        answer = await browser.fetch(method, path, **kw)
        self.note(kind, answer.status, answer.started, answer.ended)
        return answer

    def a_post(self) -> int:
        """A post to read, like or comment on: a seeded one, or now and then a new one."""
        if self.posts and self.rng.random() < 0.3:
            return self.rng.choice(list(self.posts.values())[-200:])
        return self.rng.randint(1, self.spec.posts)

    def words(self) -> str:
        return " ".join(self.rng.choices(COMMON_WORDS, k=self.rng.randint(3, 12)))


async def read(load: Load, browser: Browser) -> None:
    page = load.rng.choice(READS)
    path = {
        "home": "/",
        "explore": "/explore",
        "profile": f"/user/user{load.rng.randint(1, load.spec.total_users)}",
        "post": f"/posts/{load.a_post()}",
        "search": "/search?" + urlencode({"q": load.rng.choice(COMMON_WORDS)}),
    }[page]
    await load.fetch(page, browser, "GET", path)


async def write(load: Load, browser: Browser) -> None:
    """A post, a comment or a like, as htmx sends them; each body carries a unique token."""
    kind = load.rng.choice(WRITES)
    token = f"soak{secrets.token_hex(8)}"
    body = {"body": f"Soak {token} {load.words()}"}
    if kind == "post":
        answer = await load.fetch(kind, browser, "POST", "/posts", form=body, htmx=True)
    elif kind == "comment":
        path = f"/posts/{load.a_post()}/comments"
        answer = await load.fetch(kind, browser, "POST", path, form=body, htmx=True)
    else:
        post = load.a_post()
        answer = await load.fetch(kind, browser, "POST", f"/posts/{post}/like", htmx=True)
        if 200 <= answer.status < 300:
            load.likes.add((browser.user_id, post))
        return
    if 200 <= answer.status < 300:
        found = NEW_ID[kind].search(answer.body)
        # An answer without the new id is recorded as id 0, which no row has: a failure.
        (load.posts if kind == "post" else load.comments)[token] = int(found[1]) if found else 0


async def follow(load: Load, browser: Browser) -> None:
    other = load.rng.randint(1, load.spec.users)
    if other == browser.user_id:
        return
    path = f"/user/user{other}/follow"
    answer = await load.fetch("follow", browser, "POST", path, htmx=True)
    if 200 <= answer.status < 300:
        load.follows.add((browser.user_id, other))


async def login(load: Load, browser: Browser) -> None:
    """Log in again through the form, as on a new device: the login page (its CSRF token),
    the form, then the page it redirects to. A failed login keeps the session it had."""
    kept = dict(browser.cookies), browser.csrf
    browser.cookies.clear()
    form = await load.fetch("login-form", browser, "GET", "/login")
    token = FORM_CSRF.search(form.body)
    answer = None
    if token:
        fields = {"username": browser.username, "password": PASSWORD, "csrf_token": token[1]}
        answer = await load.fetch(
            "login", browser, "POST", "/login", form=fields | {"remember": "on"}
        )
    if answer is None or answer.status != 302 or "warble_auth" not in browser.cookies:
        browser.cookies, browser.csrf = kept
        return
    await load.fetch("login-landing", browser, "GET", answer.location or "/")


OPERATIONS: dict[str, Callable[[Load, Browser], Awaitable[None]]] = {
    "read": read,
    "write": write,
    "follow": follow,
    "login": login,
}


async def drive(load: Load, rate: float, seconds: float) -> None:
    """Open loop: an operation every 1/rate seconds, whatever the answers take (a slow
    server gets more requests at once, not fewer), each by a reader picked at random."""
    kinds, weights = list(MIX), list(MIX.values())
    running: set[asyncio.Task[None]] = set()
    n = 0
    while (due := n / rate) < seconds:
        delay = load.started + due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        load.late = max(load.late, -delay)
        operation = OPERATIONS[load.rng.choices(kinds, weights)[0]]
        browser = load.rng.choice(load.browsers)
        task = asyncio.create_task(_one_at_a_time(operation, load, browser))
        running.add(task)
        task.add_done_callback(running.discard)
        n += 1
    if running:
        await asyncio.wait(running)


async def _one_at_a_time(
    operation: Callable[[Load, Browser], Awaitable[None]], load: Load, browser: Browser
) -> None:
    async with browser.lock:
        await operation(load, browser)


# -- setting up ----------------------------------------------------------------------------


@dataclass
class Readers:
    browsers: list[Browser]
    streams: dict[int, EventStream]  # user id -> its stream
    followees: dict[int, set[int]]  # user id -> whose posts its stream announces
    after: int  # the newest event before the streams opened


async def readers(
    url: str, port: int, spec: Spec, browsers: int, streams: int, rng: random.Random
) -> Readers:
    """Logged-in readers (a session each, as a returning browser has) and stream owners, two
    groups apart, among accounts that neither block nor mute nor are blocked: the streams'
    followees then never change during the run, so what each should hear follows from the
    events table alone."""
    engine = make_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            shunning = set(
                await session.scalars(
                    text(
                        "SELECT blocker_id FROM blocks UNION SELECT blocked_id FROM blocks "
                        "UNION SELECT muter_id FROM mutes"
                    )
                )
            )
            pool = [n for n in range(1, spec.users + 1) if n not in shunning]
            chosen = rng.sample(pool, browsers + streams)
            cookies = {}
            for user in chosen:
                token = await issue_token(
                    session,
                    user,
                    remember=True,
                    user_agent="soak",
                    expires_at=utcnow() + timedelta(days=1),
                )
                jar = Login(token, SECRET).cookie.split("; ")
                cookies[user] = dict(part.split("=", 1) for part in jar)
            await session.commit()
            owners = chosen[browsers:]
            followees = {u: await timeline.shown_followee_ids(session, u) for u in owners}
            after = await session.scalar(text("SELECT coalesce(max(id), 0) FROM events"))
    finally:
        await engine.dispose()
    path = f"/events?page=home&after={after}"
    return Readers(
        [Browser(port, u, f"user{u}", cookies[u], CSRF) for u in chosen[:browsers]],
        {u: EventStream(port, cookies[u], path) for u in owners},
        followees,
        int(after or 0),
    )


def serve(port: int, url: str, folder: Path, log: Path) -> subprocess.Popen[bytes]:
    """As `make run` does: `warble serve --config hypercorn.toml`, loopback, plain-http cookies.
    RATE_LIMITS=off: every reader comes from 127.0.0.1, one address, which the per-address
    log-in limit (10 a minute) would throttle as one person."""
    env = os.environ | {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "SECURE_COOKIES": "false",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "RATE_LIMITS": "off",
        "WARBLE_INSTANCE": str(folder),
    }
    command = [WARBLE, "serve", "--config", "hypercorn.toml", "--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


async def workers_up(server: subprocess.Popen[bytes], port: int, count: int = 2) -> list[int]:
    async with asyncio.timeout(60):
        while True:
            if server.poll() is not None:
                raise SystemExit(f"soak: warble serve exited with {server.returncode}")
            workers = workers_of(server.pid)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
            except OSError:
                workers = []
            if len(workers) == count:
                await asyncio.sleep(1)  # the other worker's socket, and both hubs, starting
                return workers
            await asyncio.sleep(0.2)


def stop(server: subprocess.Popen[bytes]) -> int:
    """SIGTERM to `warble serve` alone, as a supervisor stops it: it stops its workers
    gracefully (a SIGTERM to the whole group would kill them outright). Its exit code."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    return server.returncode


# -- the run -------------------------------------------------------------------------------


@dataclass
class Restart:
    began: float = 0.0  # seconds since the load began
    back: float = 0.0  # PostgreSQL answered again
    event_id: int = 0  # the newest event before it
    cut: int = 0  # streams the client cut as it began


async def restart_midway(
    cluster: Cluster, load: Load, at: float, restart: Restart, streams: list[EventStream]
) -> None:
    """Restart PostgreSQL; as it goes down, cut every fifth stream. A restart alone drops
    none (no stream holds a database connection), and the cut ones must then come back
    through the outage and resume after their Last-Event-ID."""
    await asyncio.sleep(max(0.0, load.started + at - time.monotonic()))
    restart.event_id = await soakcheck.newest_event(cluster.url)
    restart.began = time.monotonic() - load.started
    for stream in streams[::5]:
        stream.cut()
    restart.cut = len(streams[::5])
    await asyncio.to_thread(cluster.restart)
    await asyncio.to_thread(cluster.wait_ready, time.monotonic() + 60)
    restart.back = time.monotonic() - load.started


async def sample(load: Load, workers: list[int], samples: list[soakcheck.Sample]) -> None:
    while True:
        try:
            rss = {pid: rss_kib(pid) for pid in workers}
            cpu = sum(cpu_seconds(pid) for pid in workers)
        except OSError:  # a worker is gone: the report says so
            rss, cpu = {}, samples[-1].cpu if samples else 0.0
        at = time.monotonic() - load.started
        samples.append(soakcheck.Sample(at, rss, cpu, os.getloadavg()[0]))
        await asyncio.sleep(2)


async def run(
    minutes: float,
    streams: int = 500,
    rate: float = 20.0,
    browsers: int = 100,
    seed_value: int = 17,
    log: Path = RESULTS / "soak-server.log",
    spec: Spec = SPEC,
) -> dict[str, Any]:
    log.parent.mkdir(parents=True, exist_ok=True)
    cluster = Cluster()
    server = None
    tasks: list[asyncio.Task[None]] = []
    try:
        started = time.monotonic()
        await asyncio.to_thread(cluster.start)
        seeded = await seed(cluster.url, spec)
        setup = {"cluster_and_seed_seconds": round(time.monotonic() - started, 1)}
        port = free_port()
        rng = random.Random(seed_value)
        group = await readers(cluster.url, port, spec, browsers, streams, rng)
        server = serve(port, cluster.url, cluster.folder, log)
        workers = await workers_up(server, port)
        for n, stream in enumerate(group.streams.values()):
            tasks.append(asyncio.create_task(stream.run()))
            if n % 25 == 24:
                await asyncio.sleep(0.5)  # as pages open, not all in one instant
        opened = await soakcheck.wait_for(lambda: all(s.open for s in group.streams.values()), 60)
        setup["streams_opened"] = opened

        load = Load(port, rng, group.browsers, spec)
        seconds = minutes * 60
        restart, samples = Restart(), list[soakcheck.Sample]()
        tasks.append(asyncio.create_task(sample(load, workers, samples)))
        streams_list = list(group.streams.values())
        restarting = asyncio.create_task(
            restart_midway(cluster, load, seconds / 2, restart, streams_list)
        )
        await drive(load, rate, seconds)
        await restarting
        alive = server.poll() is None and set(workers) <= set(workers_of(server.pid))
        open_at_end = sum(s.open for s in group.streams.values())
        result = await soakcheck.check(
            cluster.url, load, group, restart, samples, seconds, alive, open_at_end
        )
        # A stream's reader that stopped on an error of the client's own would pass for a
        # stream the server dropped: name them.
        done = [t for t in tasks if t.done() and not t.cancelled()]
        crashed = [repr(t.exception()) for t in done if t.exception() is not None]
        result["streams"]["client_errors"] = crashed[:10]
        result["setup"] = setup | {
            "seeded": seeded.counts,
            "browsers": browsers,
            "streams": streams,
            "rate_per_second": rate,
            "minutes": minutes,
            "workers": len(workers),
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            code = stop(server)
        await asyncio.to_thread(cluster.delete)
    result["server"] = soakcheck.server_log(log) | {"exit_code": code}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30, help="of load (default 30)")
    parser.add_argument("--streams", type=int, default=500, help="open event streams")
    parser.add_argument("--rate", type=float, default=20, help="operations per second")
    parser.add_argument("--browsers", type=int, default=100, help="logged-in readers")
    parser.add_argument("--save", default="", help="also write bench/results/NAME.json")
    args = parser.parse_args()
    result = asyncio.run(run(args.minutes, args.streams, args.rate, args.browsers))
    print(soakcheck.report(result))
    if args.save:
        print(f"saved {save(args.save, result)}")
    sys.exit(0 if all(goal["met"] for goal in result["goals"]) else 1)


if __name__ == "__main__":
    main()
