"""The reference home page: raw asyncpg and Warble's own template, no framework around it."""

# Served by hypercorn as Warble is (`hypercorn -c hypercorn.toml "bench.reference:reference"`),
# it does the database work of Warble's home page (load the viewer, count followees, one page of
# the timeline) and renders the same templates with plain Jinja. What Warble's page costs above
# this is the price of Quart, SQLAlchemy and the ORM. The viewer is `?viewer=ID` (no cookie).

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import jinja2

from app import create_app, text
from app.config import database_schema, database_url
from app.pagination import FIRST, PAGE_SIZE, Cursor, Page, decode
from app.queries import timeline
from bench.seed import asyncpg_dsn
from bench.shapes import LATERAL, SCAN

# The viewer and their unread count in one statement, as Warble loads its session's user
# (not counting what Warble's visibility rules hide: app/queries/visibility.py).
USER = (
    "SELECT id, username, email, about_me, (SELECT count(*) FROM notifications n "
    "WHERE n.recipient_id = users.id AND n.read_at IS NULL AND n.withdrawn_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = n.recipient_id "
    "AND b.blocked_id = n.actor_id) "
    "AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = n.actor_id "
    "AND b.blocked_id = n.recipient_id) "
    "AND NOT EXISTS (SELECT 1 FROM users s WHERE s.id = n.actor_id AND s.suspended_at IS NOT NULL) "
    "AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = n.recipient_id "
    "AND m.muted_id = n.actor_id)) "
    "FROM users WHERE id = $1"
)
FOLLOWEES = "SELECT count(*) FROM follows WHERE follower_id = $1"
# The raw page queries, but returning every column the template shows.
COLUMNS = "p.id, u.username, (SELECT count(*) FROM comments c WHERE c.post_id = p.id)"
WIDE = (
    "p.id, p.author_id, p.body, p.created_at, u.id, u.username, u.email, "
    "(SELECT count(*) FROM comments c WHERE c.post_id = p.id), p.edited_at, "
    "(SELECT count(*) FROM likes l WHERE l.post_id = p.id), "
    "EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1)"
)


@dataclass
class Author:
    id: int
    username: str
    email: str


@dataclass
class Post:
    id: int
    author_id: int
    body: str
    created_at: datetime
    author: Author
    edited_at: datetime | None


@dataclass
class Item:
    post: Post
    comment_count: int
    like_count: int
    liked: bool


class Reference:
    """An ASGI app: lifespan opens the pool and the templates; GET / renders the home page."""

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        warble = create_app({"SECRET_KEY": "reference"})
        self.urls = warble.url_map.bind("localhost")
        self.config = warble.config
        env = jinja2.Environment(loader=warble.jinja_env.loader, autoescape=True)
        # Warble's own filters and globals (limits, avatar URLs...), so the templates render
        # as they do in Warble; then what Quart would have provided, without Quart.
        env.filters.update(warble.jinja_env.filters)
        env.filters.update(linkify=self.linkify)
        env.globals.update(warble.jinja_env.globals)
        env.globals.update(
            url_for=self.url_for,
            csrf_token=lambda: "reference-csrf-token",
            avatar_url=lambda user, size=48: self.url_for("avatars.show", user_id=user.id),
            get_flashed_messages=lambda with_categories=False: [],
            config=self.config,
            live_after=lambda: 0,  # the newest event a worker has read: no hub here
        )
        self.env = env
        self.template = env.get_template("pages/index.html")

    def url_for(self, endpoint: str, **values: Any) -> str:
        return self.urls.build(endpoint, values)

    def linkify(self, body: str, users: dict[str, str]) -> Any:
        """As app/web.py's filter: profiles and tags linked through the URL map."""
        return text.linkify(
            body,
            users,
            lambda name: self.url_for("users.profile", username=name),
            lambda key: self.url_for("tags.show", tag=key),
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            status, body = await self.home(scope)
            headers = [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                schema = database_schema()
                self.pool = await asyncpg.create_pool(
                    asyncpg_dsn(database_url()),
                    min_size=1,
                    max_size=int(self.config["DB_POOL_SIZE"]),
                    server_settings={"search_path": schema} if schema else {},
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def home(self, scope: dict) -> tuple[int, bytes]:
        args = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        if scope["path"] != "/" or not args.get("viewer", "").isdigit():
            return 404, b"not found"
        cursor = decode(args.get("before"), FIRST)
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            user = await conn.fetchrow(USER, int(args["viewer"]))
            if user is None:
                return 404, b"no such viewer"
            followees = await conn.fetchval(FOLLOWEES, user["id"])
            probe = followees <= timeline.PROBE_FOLLOWEES_MAX["postgresql"]
            sql = LATERAL if probe else SCAN
            rows = await conn.fetch(sql.replace(COLUMNS, WIDE), user["id"], cursor.at, cursor.id)
        page = self.page(rows)
        me = Author(user["id"], user["username"], user["email"])
        viewer = args["viewer"]
        query = scope["query_string"].decode()
        request = SimpleNamespace(
            endpoint="timeline.index", path="/", full_path=f"/?{query}", method="GET", args=args
        )
        # Macros are imported without the page's context: they read `request` from the
        # globals (Quart's proxy in Warble). Rendering does not await, so this is per request.
        self.env.globals["request"] = request
        html = self.template.render(
            page=page,
            mentions={},
            continued="before" in args,
            composer={},
            g=SimpleNamespace(user=me, unread=user[4]),
            request=request,
            next_page_url=lambda p, **_: f"/?viewer={viewer}&before={p.next.encode()}",
        )
        return 200, html.encode()

    @staticmethod
    def page(rows: list[asyncpg.Record]) -> Page[Item]:
        items = [
            Item(Post(r[0], r[1], r[2], r[3], Author(r[4], r[5], r[6]), r[8]), r[7], r[9], r[10])
            for r in rows[:PAGE_SIZE]
        ]
        more = len(rows) > PAGE_SIZE
        last = items[-1].post if items else None
        return Page(items, Cursor(last.created_at, last.id) if more and last else None)


reference = Reference()
