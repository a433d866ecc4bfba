"""Atom feeds of a profile's posts and a tag's posts, for feed readers.

The same for everyone who asks (no viewer, no cookie): the public posts, newest first, with
absolute links from BASE_URL (never the Host header). An entry's id is its post's address, so
an edit changes the entry's `updated`, not its identity. Readers poll: the ETag lets them
ask "changed?" (If-None-Match) and get a 304 without the feed.

No Last-Modified: the newest entry's time is not when the feed last changed. A deleted post
(by its author or a moderator) or a suspended author leaves no trace with a time, and takes
entries out: the newest time then stands still or goes backwards, and a reader asking
If-Modified-Since would be told "not modified" about a feed that lost entries. The ETag is
computed from the entries themselves, so it changes with every one of those.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from quart import Blueprint, Response, abort, request
from quart.typing import ResponseReturnValue

from app import text
from app.blueprints.feeds import mentions
from app.blueprints.tags import key_or_404
from app.blueprints.users import user_or_404
from app.clock import utcnow
from app.db import read_session
from app.links import absolute_url
from app.pagination import FIRST, Page
from app.queries import posts, tags
from app.queries.posts import FeedItem
from app.web import render_template

bp = Blueprint("atom", __name__)

ATOM = "application/atom+xml"


def _content(item: FeedItem, users: dict[str, str]) -> str:
    """A post's text as HTML with absolute links (readers resolve no relative ones)."""
    return text.linkify(
        item.post.body,
        users,
        lambda name: absolute_url("users.profile", username=name),
        lambda key: absolute_url("tags.show", tag=key),
    )


def _updated(item: FeedItem) -> datetime:
    return item.post.edited_at or item.post.created_at


def _validator(page: Page[FeedItem], feed_id: str) -> str:
    """Changes whenever an entry does: a new post, a deleted one, an edit."""
    entries = ",".join(f"{i.post.id}:{_updated(i).timestamp()}" for i in page.items)
    return hashlib.sha256(f"{feed_id}|{entries}".encode()).hexdigest()[:32]


def _not_modified(etag: str) -> bool:
    """If-None-Match (RFC 9110 §13.1.2); If-Modified-Since alone is answered in full, since
    there is no Last-Modified it could be compared with (the module's docstring)."""
    return request.if_none_match.contains(etag) or request.if_none_match.star_tag


async def _feed(
    page: Page[FeedItem],
    *,
    title: str,
    subtitle: str,
    self_url: str,
    html_url: str,
    since: datetime,
) -> ResponseReturnValue:
    """since: the feed's `updated` while it has no entries."""
    etag = _validator(page, self_url)
    newest = max((_updated(item) for item in page.items), default=None)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=60"}
    if _not_modified(etag):
        return Response(status=304, headers=headers)
    users = await mentions([item.post.body for item in page.items])
    body = await render_template(
        "atom/feed.xml",
        title=title,
        subtitle=subtitle,
        self_url=self_url,
        html_url=html_url,
        updated=newest or since,
        entries=[
            (item, absolute_url("posts.show", post_id=item.post.id), _content(item, users))
            for item in page.items
        ],
        profile_url=lambda name: absolute_url("users.profile", username=name),
    )
    return Response(body, content_type=f"{ATOM}; charset=utf-8", headers=headers)


@bp.get("/user/<username>/feed.atom")
async def user_feed(username: str) -> ResponseReturnValue:
    user = await user_or_404(username)
    if user.suspended_at is not None or not user.approved:
        abort(404, f"User {username} not found.")  # as its posts are to everyone
    page = await posts.user_posts(read_session(), user.id, FIRST)
    return await _feed(
        page,
        title=f"{user.username} on Warble",
        subtitle=user.about_me,
        self_url=absolute_url("atom.user_feed", username=user.username),
        html_url=absolute_url("users.profile", username=user.username),
        since=user.created_at,
    )


@bp.get("/tags/<tag>/feed.atom")
async def tag_feed(tag: str) -> ResponseReturnValue:
    key = key_or_404(tag)
    session = read_session()
    display = await tags.tag_display(session, key)
    if display is None:
        abort(404, f"No post has used #{key} yet.")
    page = await posts.tagged_posts(session, key, FIRST)
    return await _feed(
        page,
        title=f"#{display} on Warble",
        subtitle=f"Posts tagged #{display}, newest first.",
        self_url=absolute_url("atom.tag_feed", tag=key),
        html_url=absolute_url("tags.show", tag=key),
        since=utcnow(),
    )
