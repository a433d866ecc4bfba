"""The home timeline and explore."""

from __future__ import annotations

from quart import Blueprint, g
from quart.typing import ResponseReturnValue

from app.blueprints.feeds import feed_context, feed_page
from app.clock import utcnow
from app.db import read_session
from app.pagination import Cursor, Page
from app.queries import people, posts, tags, timeline
from app.queries.posts import FeedItem
from app.sessions import viewer_id
from app.web import is_htmx, optional_cursor_arg, render, render_template

bp = Blueprint("timeline", __name__)


@bp.app_template_global()
def home_since(page: Page[FeedItem]) -> str:
    """Where the "new posts" banner starts: the newest post shown, or now."""
    if page.items:
        newest = page.items[0].post
        return Cursor(newest.created_at, newest.id).encode()
    return Cursor(utcnow(), 0).encode()


@bp.get("/")
async def index() -> ResponseReturnValue:
    """Logged in: the composer and the home timeline. Anonymous: everyone's posts.

    `?since=CURSOR` (logged in): the posts newer than that, for the "new posts" banner; the
    Warble-Since header names the newest of them, where the next such request starts.
    """
    since = optional_cursor_arg("since")
    if since is None or g.user is None:
        return await render_index()
    items = await timeline.home_newer(read_session(), g.user.id, since)
    newest = Cursor(items[0].post.created_at, items[0].post.id) if items else since
    context = await feed_context(Page(items, None))
    html = await render_template("partials/feed_items.html", **context | {"continued": True})
    return html, 200, {"Warble-Since": newest.encode()}


async def render_index(status: int = 200, **composer: object) -> ResponseReturnValue:
    session = read_session()
    if g.user is None:
        page = await feed_page(lambda cursor: posts.explore(session, cursor))
    else:
        me = g.user.id
        page = await feed_page(lambda cursor: timeline.home_timeline(session, me, cursor))
    context = await feed_context(page)
    return await render(
        "pages/index.html",
        "partials/feed_items.html",
        status,
        composer=composer,
        suggestions=await _suggestions(page),
        **context,
    )


async def _suggestions(page: Page[FeedItem]) -> list[people.Member]:
    """People to follow, on a first home page with nobody else's posts on it."""
    if g.user is None or is_htmx() or page.next is not None:
        return []
    if any(item.post.author_id != g.user.id for item in page.items):
        return []
    return await people.suggestions(read_session(), g.user.id)


@bp.get("/explore")
async def explore() -> ResponseReturnValue:
    """Every post, newest first, with the trending tags above them (not in the next pages)."""
    viewer = viewer_id()
    page = await feed_page(lambda cursor: posts.explore(read_session(), cursor, viewer=viewer))
    context = await feed_context(page, follow_buttons=True)
    trends = [] if is_htmx() else await tags.trending(read_session(), utcnow())
    return await render("pages/explore.html", "partials/feed_items.html", trends=trends, **context)
