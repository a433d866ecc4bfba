"""A hashtag's page: its posts, newest first."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort
from quart.typing import ResponseReturnValue

from app import text
from app.blueprints.feeds import feed_context, feed_page
from app.db import read_session
from app.queries import posts, tags
from app.sessions import viewer_id
from app.web import is_htmx, render

bp = Blueprint("tags", __name__)


def key_or_404(name: str) -> str:
    """The key of the tag a URL names ("Café", "#Café" and "café" are one tag)."""
    name = name.removeprefix("#")
    if not text.is_tag(name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        abort(
            404,
            f"“#{shown}” is not a hashtag: a tag is letters, digits and underscores, "
            "with at least one letter.",
        )
    return text.tag_key(name)


async def tag_context(key: str, name: str) -> dict[str, Any]:
    """A page of the tag's posts (the one the query string names) and how to show the tag."""
    session = read_session()
    viewer = viewer_id()
    page = await feed_page(lambda cursor: posts.tagged_posts(session, key, cursor, viewer=viewer))
    display = name if is_htmx() else (await tags.tag_display(session, key) or name)
    return await feed_context(page) | {
        "tag": key,
        "display": display,
        "feed_endpoint": "tags.show",
        "filters": {"tag": key},
    }


@bp.get("/tags/<tag>")
async def show(tag: str) -> ResponseReturnValue:
    key = key_or_404(tag)
    context = await tag_context(key, tag.removeprefix("#"))
    return await render("pages/tag.html", "partials/feed_items.html", **context)
