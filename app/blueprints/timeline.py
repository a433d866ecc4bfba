"""The home timeline and explore."""

from __future__ import annotations

from quart import Blueprint, g
from quart.typing import ResponseReturnValue

from app.blueprints.feeds import feed_context
from app.db import read_session
from app.queries import posts, timeline
from app.web import cursor_arg, render

bp = Blueprint("timeline", __name__)


@bp.get("/")
async def index() -> ResponseReturnValue:
    """Logged in: the composer and the home timeline. Anonymous: everyone's posts."""
    return await render_index()


async def render_index(status: int = 200, **composer: object) -> ResponseReturnValue:
    session = read_session()
    if g.user is None:
        page = await posts.explore(session, cursor_arg())
    else:
        page = await timeline.home_timeline(session, g.user.id, cursor_arg())
    context = await feed_context(page)
    return await render(
        "pages/index.html", "partials/feed_items.html", status, composer=composer, **context
    )


@bp.get("/explore")
async def explore() -> ResponseReturnValue:
    page = await posts.explore(read_session(), cursor_arg())
    return await render(
        "pages/explore.html", "partials/feed_items.html", **await feed_context(page)
    )
