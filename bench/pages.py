"""HTTP benchmark: Warble under hypercorn beside the reference page, both loaded by wrk."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from quart_auth import generate_auth_token
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app import create_app
from app.clock import utcnow
from app.config import database_schema, database_url
from app.db import make_engine
from app.models import User
from app.queries import posts, timeline
from app.queries.search import WORD
from app.sessions import issue_token
from bench.common import sample_viewers, save

ROOT = Path(__file__).resolve().parent.parent
HYPERCORN = str(Path(sys.executable).with_name("hypercorn"))
WARBLE = str(Path(sys.executable).with_name("warble"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRET_KEY = "warble-bench-secret-key"  # fixed, so the minted cookie is valid in every worker
CLOCK = os.sysconf("SC_CLK_TCK")
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Target:
    page: str  # home, cursor, explore, profile, post, search, notifications
    server: str  # warble or reference
    path: str


# A viewer of the dataset has no notifications (the seed writes none): before timing, the
# benchmark gives the viewer the notifications of what did happen to them (the latest
# comments on and likes of their posts, their latest followers), once: nothing is added when
# they have any.
NOTIFY_VIEWER = text(
    """INSERT INTO notifications (recipient_id, kind, actor_id, post_id, comment_id, created_at)
    SELECT :me, kind, actor_id, post_id, comment_id, created_at FROM (
      (SELECT 'comment' AS kind, c.author_id AS actor_id, c.post_id, c.id AS comment_id,
              coalesce(c.created_at, p.created_at) AS created_at
       FROM comments c JOIN posts p ON p.id = c.post_id
       WHERE p.author_id = :me AND c.author_id <> :me ORDER BY c.id DESC LIMIT 10)
      UNION ALL
      (SELECT 'like', l.user_id, l.post_id, NULL, l.created_at
       FROM likes l JOIN posts p ON p.id = l.post_id
       WHERE p.author_id = :me AND l.user_id <> :me ORDER BY l.created_at DESC LIMIT 20)
      UNION ALL
      (SELECT 'follow', f.follower_id, NULL, NULL, f.created_at
       FROM follows f WHERE f.followed_id = :me ORDER BY f.created_at DESC LIMIT 10)
    ) happened
    WHERE NOT EXISTS (SELECT 1 FROM notifications WHERE recipient_id = :me)"""
)
# The posts with the most comments, newest first: the post page shows one of them.
MOST_COMMENTED = text(
    "SELECT post_id FROM comments GROUP BY post_id ORDER BY count(*) DESC, post_id DESC LIMIT 20"
)


def search_word(bodies: list[str]) -> str:
    """The commonest word of four letters or more in these posts: one that finds posts (a
    page of them, through the newest window), people and tags by prefix."""
    words = Counter(w.lower() for body in bodies for w in WORD.findall(body) if len(w) >= 4)
    return min(words, key=lambda w: (-words[w], w)) if words else "the"


async def prepare(url: str, schema: str | None) -> tuple[list[Target], str]:
    """Pick a typical viewer, their pages and a cookie that logs Warble in as them."""
    engine = make_engine(url, schema=schema)
    try:
        viewer = (await sample_viewers(engine, 1, seed=5))[0]
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            user = await session.get_one(User, viewer.user_id)
            first = await timeline.home_timeline(session, user.id)
            await session.execute(NOTIFY_VIEWER, {"me": user.id})
            commented = None
            for post_id in await session.scalars(MOST_COMMENTED):
                if await posts.get_post(session, post_id, viewer=user.id) is not None:
                    commented = post_id
                    break
            token = await issue_token(  # a remembered session, like a returning reader's
                session,
                user.id,
                remember=True,
                user_agent="bench",
                expires_at=utcnow() + timedelta(days=1),
            )
            await session.commit()
        warble = create_app({"SECRET_KEY": SECRET_KEY, "DATABASE_URL": url})
        auth = generate_auth_token(warble.test_client(), token)
        # A returning browser also sends its session cookie (with its CSRF token); without it
        # every page would mint a token and set a new session cookie.
        signer = warble.session_interface.get_signing_serializer(warble)
        assert signer is not None
        session_cookie = signer.dumps({"csrf": "warble-bench-csrf-token"})
    finally:
        await engine.dispose()
    assert first.next is not None and first.items, "the viewer needs two pages of timeline"
    assert commented is not None, "the dataset needs a post with comments"
    post = first.items[0].post
    before = first.next.encode()
    word = quote(search_word([item.post.body for item in first.items]))
    pages = {
        "home": "/",
        "cursor": f"/?before={before}",
        "explore": "/explore",
        "profile": f"/user/{post.author.username}",
        "post": f"/posts/{commented}",
        "search": f"/search?q={word}",
        "notifications": "/notifications",
    }
    targets = []
    for page, path in pages.items():
        joiner = "&" if "?" in path else "?"
        targets.append(Target(page, "warble", path))
        targets.append(Target(page, "reference", f"{path}{joiner}viewer={user.id}"))
    return targets, f"warble_auth={auth}; warble_session={session_cookie}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, cookie: str) -> tuple[int, str]:
    """GET a loopback URL this module built (http only)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, response.read().decode()


@dataclass
class Server:
    base: str
    sid: str  # its own session: the session id names the process tree
    access_log: Path  # each line names the worker that served it: "[time] [pid] [INFO] ..."


@contextmanager
def serve(
    app: str, workers: int, env: dict[str, str], log: Path, launcher: str = "warble"
) -> Iterator[Server]:
    """The app on a free loopback port with the README's configuration (hypercorn.toml), as
    `make run` serves it (`warble serve`: a listening socket per worker) or with hypercorn's
    own command (one socket that the workers share)."""
    port = free_port()
    if launcher == "warble":
        command = [WARBLE, "serve", "--app", app, "--bind", f"127.0.0.1:{port}"]
    else:
        command = [HYPERCORN, "-c", "hypercorn.toml", "--bind", f"127.0.0.1:{port}", app]
    command += ["--workers", str(workers)]
    access_log = log.with_suffix(".access.log")
    with log.open("w") as out, access_log.open("w") as access:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ | env,
            stdout=access,  # the access log, written as in production
            stderr=out,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process, log)
        yield Server(base, f"sid:{process.pid}", access_log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# nginx in front, as the README's site does: `nginx` opens a connection to Warble per request;
# `nginx-keepalive` keeps a pool of them open (README, "Self-hosting"). Its own worker count is
# nginx's default (`auto`: one per core).
NGINX_CONF = """\
{user}worker_processes {processes};
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream warble {{
        server 127.0.0.1:{upstream};
        {keepalive}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://warble;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            {keepalive_headers}
        }}
    }}
}}
"""
PROXIES = ("none", "nginx", "nginx-keepalive")


def nginx_conf(
    folder: Path, port: int, upstream: int, keepalive: bool, processes: str = "auto"
) -> str:
    # Run as root (in a container), nginx's workers would be `nobody`, who cannot write to
    # the temp folder: they run as the user who started the benchmark instead.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return NGINX_CONF.format(
        user=user,
        processes=processes,
        folder=folder,
        port=port,
        upstream=upstream,
        keepalive="keepalive 16;" if keepalive else "",
        keepalive_headers=(
            'proxy_http_version 1.1;\n            proxy_set_header Connection "";'
            if keepalive
            else ""
        ),
    )


@contextmanager
def behind(server: Server, proxy: str, folder: Path, processes: str = "auto") -> Iterator[Server]:
    """`server`, or nginx in front of it (`proxy`): the same server, reached through nginx
    (with `processes` workers of its own, each with its own pool of kept-alive connections)."""
    if proxy == "none":
        yield server
        return
    folder.mkdir()
    port = free_port()
    upstream = int(server.base.rsplit(":", 1)[1])
    conf = folder / "nginx.conf"
    keepalive = proxy == "nginx-keepalive"
    conf.write_text(nginx_conf(folder, port, upstream, keepalive, processes))
    with (folder / "stderr.log").open("w") as errors:
        process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, folder / "error.log")
        yield Server(f"http://127.0.0.1:{port}", server.sid, server.access_log)
    finally:
        process.terminate()
        process.wait(20)


def wait_for_port(port: int, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{process.args[0]} did not start: see {log}") from None
            time.sleep(0.2)


def cpu_seconds(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK


def process_groups() -> dict[str, set[int]]:
    """Every process, grouped by session id (hypercorn's tree) and PostgreSQL's by name."""
    groups: dict[str, set[int]] = defaultdict(set)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        session = stat.rsplit(")", 1)[1].split()[3]
        groups[f"sid:{session}"].add(int(entry.name))
        if name == "postgres":
            groups["postgres"].add(int(entry.name))
    return groups


def wrk(url: str, cookie: str, connections: int, seconds: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    out = subprocess.run(
        [*command, "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    result["requests"] = float(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        result[key] = float(value) * WRK_UNITS[unit]
    return result


ACCESS_LINE = re.compile(r"\[[^\]]*\] \[(\d+)\] \[INFO\] \S+ \"")


def requests_per_worker(access_log: Path, start: int) -> list[int]:
    """How many requests each worker served since byte `start` of the access log, busiest
    first (a worker that served none is missing: compare the length with the worker count)."""
    with access_log.open("rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").splitlines()
    counts = Counter(m[1] for line in lines if (m := ACCESS_LINE.match(line)))
    return sorted(counts.values(), reverse=True)


def measured(url: str, cookie: str, connections: int, seconds: int, server: Server) -> dict:
    """One wrk run, plus the CPU the server and PostgreSQL spent per request meanwhile, and
    how the requests spread over the server's workers."""
    before = process_groups()
    cpu, postgres = cpu_seconds(before[server.sid]), cpu_seconds(before["postgres"])
    start = server.access_log.stat().st_size
    result: dict[str, Any] = wrk(url, cookie, connections, seconds)
    after = process_groups()
    per = 1e3 / result["requests"]
    result["server_cpu_ms"] = (cpu_seconds(after[server.sid]) - cpu) * per
    result["db_cpu_ms"] = (cpu_seconds(after["postgres"]) - postgres) * per
    time.sleep(0.2)  # a worker writes its access log line after the response
    result["per_worker"] = requests_per_worker(server.access_log, start)
    served = sum(result["per_worker"])
    result["busiest_share"] = result["per_worker"][0] / served if served else 0.0
    return result


# What a page shows that the reference must show alike, each a list in page order: the ids of
# the posts, comments, notifications and people listed, and every count and state shown.
SHOWN = {
    # Every element's id, in page order: which sections, lists, items, buttons and "more"
    # links the page holds (#trending or #trending-none, #search-people, #comments-more...).
    "element ids": re.compile(r' id="([^"]+)"'),
    "posts": re.compile(r'<article[^>]* id="post-(\d+)"'),
    "comments": re.compile(r'<li class="comment" id="comment-(\d+)"'),
    "notifications": re.compile(r'<li class="notification[^"]*" id="notification-(\d+)"'),
    "people": re.compile(r'<li class="person" id="person-(\d+)"'),
    "follow buttons": re.compile(
        r'<form id="follow-([0-9a-z-]+)" class="follow-form"[^>]*action="([^"]+)"'
    ),
    "comment counts": re.compile(r'<span id="comment-count-(\d+)"[^>]*>(\d+) comment'),
    "like counts": re.compile(r'<a class="like-count" href="/posts/(\d+)/likes">(\d+) like'),
    "liked": re.compile(r'aria-pressed="(true|false)"'),
    "liked by others": re.compile(r"(\d+) others?</a> liked"),
    "unread count": re.compile(r'id="notifications-count"[^>]*aria-label="([^"]*)"'),
    "followers": re.compile(r'id="followers-count">(\d+)<'),
    "following": re.compile(r'id="following-count">(\d+)<'),
    "tags": re.compile(r'<a class="hashtag" href="/tags/([^"]+)"[^>]*>([^<]*)</a>'),
    "tag authors": re.compile(r'<span class="meta">(\d+) (?:person|people)</span>'),
}
# What each page must show at all, or the comparison proves little (a profile lists posts...).
EXPECTED = {
    "home": ("posts",),
    "cursor": ("posts",),
    "explore": ("posts", "follow buttons"),
    "profile": ("posts", "followers"),
    "post": ("posts", "comments"),
    "search": ("posts",),
    "notifications": ("notifications",),
}


def shown(html: str) -> dict[str, list[Any]]:
    return {name: pattern.findall(html) for name, pattern in SHOWN.items()}


def same_pages(seen: dict[tuple[str, str], dict[str, list[Any]]]) -> None:
    """Each page of `seen` ((page, server) → what it shows) shows on the reference what it
    shows on Warble, and what that page must show at all (EXPECTED)."""
    for page in dict.fromkeys(page for page, _ in seen):
        warble, reference = seen[page, "warble"], seen[page, "reference"]
        for name in SHOWN:
            assert warble[name] == reference[name], (
                f"{page} {name}: Warble {warble[name]} != reference {reference[name]}"
            )
        for name in EXPECTED.get(page, ()):
            assert warble[name], f"{page} shows no {name}"


def check_pages(bases: dict[str, str], targets: list[Target], cookie: str) -> dict[str, int]:
    """Warble and the reference must show the same things (SHOWN) on every page; every page
    must answer 200.

    Seeing the notifications page marks them read: Warble's is seen once first, so both
    pages are compared as they are timed, read (tests/test_bench.py checks that the
    reference marks them read as Warble does).
    """
    fetch(bases["warble"] + "/notifications", cookie)
    sizes: dict[str, int] = {}
    seen: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for target in targets:
        status, html = fetch(bases[target.server] + target.path, cookie)
        assert status == 200, f"{target} answered {status}"
        sizes[f"{target.server} {target.page}"] = len(html.encode())
        seen[target.page, target.server] = shown(html)
    same_pages(seen)
    for page in ("home", "cursor", "explore"):
        assert len(seen[page, "warble"]["posts"]) == 20, f"{page}: not a full page"
    assert "Your timeline" in fetch(bases["warble"] + "/", cookie)[1], "the cookie did not log in"
    return sizes


def run(
    url: str,
    schema: str | None = None,
    *,
    workers: tuple[int, ...] = (1, 2),
    seconds: int = 5,
    reps: int = 3,
    connections: int = 8,
    seed: int = 5,
    launcher: str = "warble",
    proxy: str = "none",
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("pages: wrk is not installed (Debian: apt-get install wrk)")
    if proxy != "none" and not Path(NGINX).exists():
        raise SystemExit("pages: nginx is not installed (Debian: apt-get install nginx)")
    if not url.startswith("postgresql"):
        raise SystemExit("pages: the reference page needs PostgreSQL (asyncpg)")
    targets, cookie = asyncio.run(prepare(url, schema))
    rng = random.Random(seed)
    runs: list[dict[str, Any]] = []
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as instance:
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "SECURE_COOKIES": "false",
            "RATE_LIMITS": "off",
            "WARBLE_INSTANCE": instance,
        } | ({"DATABASE_SCHEMA": schema} if schema else {})
        logs = Path(instance)
        for count in workers:
            with (
                serve("app:create_app()", count, env, logs / "warble.log", launcher) as direct,
                serve("bench.reference:reference", count, env, logs / "ref.log", launcher) as r,
                behind(direct, proxy, logs / f"nginx-warble-{count}") as warble,
                behind(r, proxy, logs / f"nginx-ref-{count}") as ref,
            ):
                servers = {"warble": warble, "reference": ref}
                bases = {name: server.base for name, server in servers.items()}
                sizes = check_pages(bases, targets, cookie)
                for target in targets:  # warm-up: caches, pools, every worker's statements
                    wrk(bases[target.server] + target.path, cookie, connections, 1)
                home = [t for t in targets if t.page == "home"]
                for rep in range(reps):
                    plan = [(t, connections) for t in targets] + [(t, 1) for t in home]
                    rng.shuffle(plan)  # no server always runs first on a cooler machine
                    for target, conns in plan:
                        address = bases[target.server] + target.path
                        server = servers[target.server]
                        result = measured(address, cookie, conns, seconds, server)
                        runs.append(
                            vars(target)
                            | {"workers": count, "connections": conns, "rep": rep}
                            | result
                        )
    return {
        "runs": runs,
        "summary": summarise(runs),
        "bytes": sizes,
        "seconds": seconds,
        "launcher": launcher,
        "proxy": proxy,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The median of each figure over the repetitions."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[f"{r['workers']}w c{r['connections']} {r['page']} {r['server']}"].append(r)
    figures = ("rps", "p50_ms", "p99_ms", "server_cpu_ms", "db_cpu_ms", "busiest_share")
    return {
        key: {f: statistics.median(r[f] for r in group) for f in figures}
        for key, group in sorted(groups.items())
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"HTTP ({result.get('launcher', 'hypercorn')}, proxy {result.get('proxy', 'none')}), "
        "median of runs: requests/s, "
        "p50 / p99 ms, CPU ms per request (server, db)"
    ]
    summary = result["summary"]
    for key, s in summary.items():
        line = (
            f"  {key:28} {s['rps']:8,.0f} rps  {s['p50_ms']:6.2f} / {s['p99_ms']:6.2f} ms"
            f"  cpu {s['server_cpu_ms']:.2f} + {s['db_cpu_ms']:.2f}"
            f"  busiest worker {s['busiest_share']:.0%}"
        )
        if key.endswith(" warble") and (ref := summary.get(key[: -len("warble")] + "reference")):
            line += f"  = {s['rps'] / ref['rps']:.0%} of reference"
        lines.append(line)
    lines.append("requests per worker, each run (a lucky or unlucky spread shows here):")
    for r in result["runs"]:
        if r["workers"] > 1:
            spread = " + ".join(map(str, r["per_worker"]))
            if len(r["per_worker"]) < r["workers"]:
                spread += " + 0" * (r["workers"] - len(r["per_worker"]))
            lines.append(
                f"  {r['workers']}w c{r['connections']} {r['page']} {r['server']} rep {r['rep']}:"
                f" {spread}"
            )
    lines.append("bytes: " + ", ".join(f"{k} {v:,}" for k, v in result["bytes"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=database_url(), help="default: $DATABASE_URL")
    parser.add_argument("--schema", default=database_schema(), help="default: $DATABASE_SCHEMA")
    parser.add_argument("--workers", default="1,2", help="hypercorn worker counts to measure")
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--launcher",
        choices=("warble", "hypercorn"),
        default="warble",
        help="warble serve (a socket per worker, as make run) or hypercorn's own (one shared)",
    )
    parser.add_argument(
        "--proxy",
        choices=PROXIES,
        default="none",
        help="wrk to the servers directly, or through nginx (without or with upstream keep-alive)",
    )
    parser.add_argument("--save", default="", help="also write bench/results/NAME.json")
    args = parser.parse_args()
    workers = tuple(int(n) for n in args.workers.split(","))
    result = run(
        args.url,
        args.schema,
        workers=workers,
        seconds=args.seconds,
        reps=args.reps,
        connections=args.connections,
        launcher=args.launcher,
        proxy=args.proxy,
    )
    print(report(result))
    if args.save:
        print(f"saved {save(args.save, result)}")


if __name__ == "__main__":
    main()
