"""The home timeline and explore."""

from __future__ import annotations

from quart import Blueprint, g
from quart.typing import ResponseReturnValue

from app.blueprints.feeds import feed_context, feed_page
from app.db import read_session
from app.pagination import Page
from app.queries import people, posts, timeline
from app.queries.posts import FeedItem
from app.web import is_htmx, render

bp = Blueprint("timeline", __name__)


@bp.get("/")
async def index() -> ResponseReturnValue:
    """Logged in: the composer and the home timeline. Anonymous: everyone's posts."""
    return await render_index()


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
    page = await feed_page(lambda cursor: posts.explore(read_session(), cursor))
    context = await feed_context(page, follow_buttons=True)
    return await render("pages/explore.html", "partials/feed_items.html", **context)
