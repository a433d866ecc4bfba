"""The reference pages: raw asyncpg and Warble's own templates, no framework around them."""

# Served by hypercorn as Warble is (`hypercorn -c hypercorn.toml "bench.reference:reference"`),
# each page does the database work of Warble's page of the same address and renders the same
# template with plain Jinja: the home page (the viewer, their followee count, one page of the
# timeline), explore, a profile, a post with its comments, search results and the
# notifications page (bench/reference_sql.py holds their statements). What Warble's page
# costs above this is the price of Quart, SQLAlchemy and the ORM. The viewer is `?viewer=ID`
# (no cookie); the path is matched against Warble's own URL map.

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import jinja2
from werkzeug.exceptions import NotFound

from app import accounts, create_app, text
from app.clock import utcnow
from app.config import database_schema, database_url
from app.pagination import FIRST, MAX_ID, PAGE_SIZE, Cursor, Page, cut, decode
from app.queries import events, search, tags, timeline
from app.queries.follows import Relations
from bench import reference_sql as sql
from bench.reference_rows import Account, Item, account, comment, feed, feed_item, home_page, notice
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
    "AND m.muted_id = n.actor_id)), role "
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
class View:
    """One request: what it asked for, and who is looking."""

    endpoint: str
    path: str
    view_args: dict[str, Any]
    args: dict[str, str]
    me: Account
    unread: int

    @property
    def request(self) -> SimpleNamespace:
        """What the templates read of Quart's request."""
        query = "&".join(f"{k}={v}" for k, v in self.args.items())
        return SimpleNamespace(
            endpoint=self.endpoint,
            view_args=self.view_args,
            path=self.path,
            full_path=f"{self.path}?{query}",
            method="GET",
            args=self.args,
        )

    def cursor(self, name: str = "before") -> Cursor:
        return decode(self.args.get(name), FIRST)


class CurrentRequest:
    """What Quart's `request` proxy is to the templates: the request being rendered. Macros
    are imported without the page's context, and Jinja keeps such a module once made, so they
    must read the request through an object that stays the same."""

    def __init__(self) -> None:
        self.now = SimpleNamespace()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.now, name)


Rendered = tuple[str, dict[str, Any]]  # a template and its context
Handler = Callable[[asyncpg.Connection, View], Awaitable[Rendered]]


class Reference:
    """An ASGI app: lifespan opens the pool and the templates; GET renders a page (`routes`)."""

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.request = CurrentRequest()
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
            request=self.request,
        )
        self.env = env
        # Warble's endpoint → the reference page that does its work.
        self.routes: dict[str, Handler] = {
            "timeline.index": self.home,
            "timeline.explore": self.explore,
            "users.profile": self.profile,
            "posts.show": self.post,
            "search.index": self.search,
            "notifications.index": self.notifications,
        }

    def url_for(self, endpoint: str, **values: Any) -> str:
        anchor = values.pop("_anchor", None)
        url = self.urls.build(endpoint, values)
        return f"{url}#{anchor}" if anchor else url

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
            status, body = await self.respond(scope)
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

    async def respond(self, scope: dict) -> tuple[int, bytes]:
        args = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        try:
            endpoint, view_args = self.urls.match(scope["path"], "GET")
        except NotFound:
            return 404, b"not found"
        handler = self.routes.get(endpoint)
        if handler is None or not args.get("viewer", "").isdigit():
            return 404, b"not found"
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            user = await conn.fetchrow(USER, int(args["viewer"]))
            if user is None:
                return 404, b"no such viewer"
            me = Account(user["id"], user["username"], user["email"], user["about_me"])
            me.role = user["role"]
            view = View(endpoint, scope["path"], view_args, args, me, user[4])
            try:
                template, context = await handler(conn, view)
            except NotFound:
                return 404, b"not found"
        return 200, self.render(view, template, context).encode()

    def render(self, view: View, template: str, context: dict[str, Any]) -> str:
        # Rendering does not await: the request is this one's until the page is rendered.
        request = self.request.now = view.request

        def next_page_url(
            page: Any, param: str = "before", endpoint: str | None = None, **filters: Any
        ) -> str:
            """As app/web.py's, with the viewer: the route's arguments, the cursor."""
            values = filters | {param: page.next.encode(), "viewer": view.me.id}
            if endpoint is None:
                endpoint, values = request.endpoint, request.view_args | values
            return self.url_for(endpoint, **values)

        return self.env.get_template(template).render(
            context,
            g=SimpleNamespace(user=view.me, unread=view.unread),
            request=request,
            next_page_url=next_page_url,
            continued="before" in view.args,
        )

    async def mentions(self, conn: asyncpg.Connection, bodies: list[str]) -> dict[str, str]:
        """users.existing_usernames: the @names in these bodies that belong to someone."""
        names = text.mentioned(bodies)
        if not names:
            return {}
        rows = await sql.USERNAMES.fetch(conn, names=sorted(names))
        return {r[0].lower(): r[0] for r in rows}

    # -- the pages -----------------------------------------------------------------------------

    async def home(self, conn: asyncpg.Connection, view: View) -> Rendered:
        """The home timeline (Warble's suggestions show only to a viewer whose first page
        holds nobody else's posts: not the benchmark's)."""
        cursor = view.cursor()
        followees = await conn.fetchval(FOLLOWEES, view.me.id)
        probe = followees <= timeline.PROBE_FOLLOWEES_MAX["postgresql"]
        query = (LATERAL if probe else SCAN).replace(COLUMNS, WIDE)
        rows = await conn.fetch(query, view.me.id, cursor.at, cursor.id)
        page = home_page(rows)
        names = await self.mentions(conn, [item.post.body for item in page.items])
        return "pages/index.html", {"page": page, "mentions": names, "composer": {}}

    async def explore(self, conn: asyncpg.Connection, view: View) -> Rendered:
        """Everyone's posts, the Follow buttons beside them, the trending tags."""
        cursor, me = view.cursor(), view.me.id
        rows = await sql.EXPLORE.fetch(conn, viewer=me, before_at=cursor.at, before_id=cursor.id)
        page = feed(rows)
        authors = {item.post.author_id for item in page.items} - {me}
        following = set()
        if authors:
            following = {
                r[0] for r in await sql.FOLLOWED_AMONG.fetch(conn, viewer=me, ids=list(authors))
            }
        now = utcnow()
        since = now - timedelta(hours=tags.TRENDING_HOURS)
        trends = [tags.Trend(*r) for r in await sql.TRENDING.fetch(conn, since=since, now=now)]
        return "pages/explore.html", {
            "page": page,
            "mentions": await self.mentions(conn, [i.post.body for i in page.items]),
            "followed_ids": following,
            "trends": trends,
        }

    async def profile(self, conn: asyncpg.Connection, view: View) -> Rendered:
        """The account, its counts, how the viewer stands with it, its posts (none across a
        block or of a suspended account)."""
        username = view.view_args["username"]
        if accounts.username_error(username) is not None:
            raise NotFound
        row = await sql.USER_BY_NAME.fetchrow(conn, name=username.lower())
        if row is None:
            raise NotFound
        user = account(row)
        counts = await sql.RELATIONS.fetchrow(conn, user=user.id, viewer=view.me.id)
        assert counts is not None
        relations = Relations(counts[0], counts[1], *map(bool, counts[2:]))
        hidden = relations.i_block or relations.blocks_me or user.suspended_at is not None
        page: Page[Item] = Page([], None)
        if not hidden:
            cursor = view.cursor()
            rows = await sql.BY_AUTHOR.fetch(
                conn, author=user.id, viewer=view.me.id, before_at=cursor.at, before_id=cursor.id
            )
            page = feed(rows)
        return "pages/profile.html", {
            "user": user,
            **relations._asdict(),
            "page": page,
            "mentions": await self.mentions(conn, [i.post.body for i in page.items]),
            "followed_ids": None,
        }

    async def post(self, conn: asyncpg.Connection, view: View) -> Rendered:
        """The post (a 404 across a block or for a suspended author) and its first comments,
        up to now."""
        post_id = view.view_args["post_id"]
        row = await sql.FIND_POST.fetchrow(conn, post_id=post_id, viewer=view.me.id)
        if row is None or row["anon_4"] or row["anon_5"]:
            raise NotFound
        item = feed_item(row)
        until = Cursor(utcnow(), MAX_ID)
        rows = await sql.COMMENTS.fetch(
            conn, post=item.post.id, viewer=view.me.id, until_at=until.at, until_id=until.id
        )
        comments = cut([comment(r) for r in rows], lambda c: Cursor(c.created_at, c.id))
        bodies = [item.post.body, *(c.body for c in comments.items)]
        return "pages/post.html", {
            "item": item,
            "comments": comments,
            "until": until.encode(),
            "mentions": await self.mentions(conn, bodies),
            "comment_form": {},
        }

    async def search(self, conn: asyncpg.Connection, view: View) -> Rendered:
        """People and tags by prefix (one word), posts by their words, newest first."""
        query = search.parse(view.args.get("q", ""))
        if query.tag is not None:
            raise NotFound  # Warble redirects to the tag's page
        me = view.me.id
        page = await self.search_posts(conn, query, view.cursor(), me)
        people, found_tags = [], []
        if "before" not in view.args and query.name_prefix is not None:
            low, high = query.name_prefix, query.name_prefix + search.TOP
            rows = await sql.PEOPLE_BY_PREFIX.fetch(conn, low=low, high=high, viewer=me)
            people = [search.Person(account(r), r["anon_1"]) for r in rows]  # type: ignore[arg-type]
        if "before" not in view.args and query.tag_prefix is not None:
            low, high = query.tag_prefix, query.tag_prefix + tags.TOP
            rows = await sql.TAGS_BY_PREFIX.fetch(conn, low=low, high=high)
            found_tags = [tags.FoundTag(r[0], r[1]) for r in rows]
        return "pages/search.html", {
            "query": query,
            "search_text": query.text,
            "page": page,
            "mentions": await self.mentions(conn, [i.post.body for i in page.items]),
            "people": Page(people, None),
            "found_tags": found_tags,
        }

    async def search_posts(
        self, conn: asyncpg.Connection, query: search.Query, cursor: Cursor, me: int
    ) -> Page[Item]:
        """As search.search_posts: windows of ids, newest first, each prepared anew so that
        PostgreSQL plans it for these words; then one statement for the page's posts."""
        if not query.finds_posts:
            return Page([], None)
        params = search.search_params(query, "postgresql", me)
        high = cursor.id
        if cursor == FIRST:
            high = (await sql.NEWEST_POST.fetchval(conn) or 0) + 1
        ids: list[int] = []
        for size in (*search.WINDOWS, None):  # None: every older id
            if high <= 0 or len(ids) > PAGE_SIZE:
                break
            low = 0 if size is None else max(0, high - size)
            window = sql.search_window(rest=size is None)
            prepared = await conn.prepare(window.sql)
            ids += [
                r[0]
                for r in await prepared.fetch(*window.args(params | {"low": low, "high": high}))
            ]
            high = low
        if not ids:
            return Page([], None)
        rows = await sql.SEARCH_BY_ID.fetch(conn, ids=ids[:PAGE_SIZE], viewer=me)
        found = [feed_item(r) for r in rows]
        last = found[-1].post
        return Page(found, Cursor(last.created_at, last.id) if len(ids) > PAGE_SIZE else None)

    async def notifications(self, conn: asyncpg.Connection, view: View) -> Rendered:
        """Newest first, likes grouped by post; the shown ones become read (one UPDATE, only
        when some were unread, with the event that tells the viewer's other pages)."""
        cursor, me = view.cursor(), view.me.id
        rows = await sql.NOTIFICATIONS.fetch(conn, user_id=me, at=cursor.at, id=cursor.id)
        notices = [notice(r) for r in rows]
        page = cut(notices, lambda n: Cursor(n.notification.created_at, n.notification.id))
        bodies = [b for n in page.items for b in (n.post_body, n.comment_body) if b]
        names = await self.mentions(conn, bodies)
        unread = {n.notification.id for n in page.items if n.notification.read_at is None}
        if unread:
            async with conn.transaction():
                now = utcnow()
                marked = await sql.MARK_READ.fetch(
                    conn, me=me, ids=sorted(unread), top=max(unread), now=now
                )
                if marked:
                    event = await sql.PUBLISH.fetchval(conn, kind="read", user=me, now=now)
                    await sql.NOTIFY.fetch(conn, prefix=events.CHANNEL_PREFIX, id=str(event))
                view.unread = await sql.UNREAD.fetchval(conn, me=me)
        return "pages/notifications.html", {"page": page, "unread": unread, "mentions": names}


reference = Reference()
