"""Timelines in the client API: home, public (Explore), a tag's.

https://docs.joinmastodon.org/methods/timelines/
"""

from __future__ import annotations

from quart import Blueprint, request
from quart.typing import ResponseReturnValue

from app import text
from app.api import http
from app.api.accounts import statuses_page
from app.api.auth import user_with, viewer_with
from app.db import read_session
from app.pagination import Cursor, Page
from app.queries import posts, timeline
from app.queries.posts import FeedItem

bp = Blueprint("api_timelines", __name__)


@bp.get("/api/v1/timelines/home")
async def home() -> ResponseReturnValue:
    me = await user_with("read:statuses")
    session = read_session()

    async def fetch(cursor: Cursor) -> Page[FeedItem]:
        return await timeline.home_timeline(session, me.id, cursor)

    async def after(cursor: Cursor) -> list[FeedItem]:
        return await timeline.home_after(session, me.id, cursor)

    return await statuses_page(fetch, after)


def _nothing_but_local_text() -> bool:
    """Warble has no remote posts and no media: asking for only those finds nothing."""
    args = dict(request.args)
    return http.flag(args, "remote") or http.flag(args, "only_media")


@bp.get("/api/v1/timelines/public")
async def public() -> ResponseReturnValue:
    viewer = await viewer_with("read:statuses")
    if _nothing_but_local_text():
        return []
    session, me = read_session(), viewer.id if viewer else None

    async def fetch(cursor: Cursor) -> Page[FeedItem]:
        return await posts.explore(session, cursor, viewer=me)

    async def after(cursor: Cursor) -> list[FeedItem]:
        return await posts.feed_after(session, posts.EXPLORE_AFTER, cursor, me)

    return await statuses_page(fetch, after)


@bp.get("/api/v1/timelines/tag/<tag>")
async def tag(tag: str) -> ResponseReturnValue:
    viewer = await viewer_with("read:statuses")
    if not text.is_tag(tag):
        http.raise_not_found()
    if _nothing_but_local_text():
        return []
    session, me, key = read_session(), viewer.id if viewer else None, text.tag_key(tag)

    async def fetch(cursor: Cursor) -> Page[FeedItem]:
        return await posts.tagged_posts(session, key, cursor, viewer=me)

    async def after(cursor: Cursor) -> list[FeedItem]:
        return await posts.feed_after(session, posts.TAGGED_AFTER, cursor, me, tag=key)

    return await statuses_page(fetch, after)
