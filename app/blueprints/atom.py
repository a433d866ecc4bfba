"""Atom feeds of a profile's posts and a tag's posts, for feed readers.

The same for everyone who asks (no viewer, no cookie): the public posts, newest first, with
absolute links from BASE_URL (never the Host header). An entry's id is its post's address, so
an edit changes the entry's `updated`, not its identity. Readers poll: the ETag and the
Last-Modified date let them ask "changed?" (If-None-Match, If-Modified-Since) and get a 304
without the feed.

The ETag is computed from the entries themselves and the feed's title and subtitle, so it
changes with every change: a new post, an edit, a deleted post, a suspended author, a new
profile text. Last-Modified cannot be the newest entry's time:
deleting a post or suspending an author takes entries out and leaves no time behind, so that
time would stand still or go backwards while the feed lost entries. It is when the feed was
first served with its current ETag, kept in feed_versions (one write per change of a feed, on
the first request that sees it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from quart import Blueprint, Response, abort, request
from quart.typing import ResponseReturnValue
from werkzeug.http import http_date

from app import text
from app.blueprints.feeds import mentions
from app.blueprints.tags import key_or_404
from app.blueprints.users import user_or_404
from app.clock import utcnow
from app.db import read_session, write_session
from app.links import absolute_url
from app.pagination import FIRST, Page
from app.queries import feed_versions, posts, tags
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


def _validator(page: Page[FeedItem], *about_the_feed: str) -> str:
    """Changes whenever an entry does (a new post, a deleted one, an edit) or what is said of
    the feed (its address, title, subtitle)."""
    entries = ",".join(f"{i.post.id}:{_updated(i).timestamp()}" for i in page.items)
    return hashlib.sha256("|".join([*about_the_feed, entries]).encode()).hexdigest()[:32]


async def _changed_at_recording_a_change(feed: str, etag: str) -> datetime:
    """When the feed was first served with this ETag: read, or (the first request to serve a
    change) written and committed here."""
    version = await feed_versions.known(read_session(), feed)
    if version is not None and version.etag == etag:
        return version.changed_at
    session = await write_session()
    changed_at = await feed_versions.record(session, feed, etag, utcnow().replace(microsecond=0))
    await session.commit()
    return changed_at


def _not_modified(etag: str, changed_at: datetime) -> bool:
    """If-None-Match, or else If-Modified-Since (RFC 9110 §13.2.2: the ETag wins)."""
    if request.if_none_match:
        return request.if_none_match.contains(etag) or request.if_none_match.star_tag
    since = request.if_modified_since
    return since is not None and changed_at <= since


async def _feed(
    page: Page[FeedItem],
    *,
    feed: str,
    title: str,
    subtitle: str,
    self_url: str,
    html_url: str,
    since: datetime,
) -> ResponseReturnValue:
    """feed: its key in feed_versions; since: the feed's `updated` while it has no entries."""
    etag = _validator(page, self_url, title, subtitle)
    changed_at = await _changed_at_recording_a_change(feed, etag)
    newest = max((_updated(item) for item in page.items), default=None)
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": http_date(changed_at),
        "Cache-Control": "public, max-age=60",
    }
    if _not_modified(etag, changed_at):
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
        feed=f"user:{user.id}",
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
        feed=f"tag:{key}",
        title=f"#{display} on Warble",
        subtitle=f"Posts tagged #{display}, newest first.",
        self_url=absolute_url("atom.tag_feed", tag=key),
        html_url=absolute_url("tags.show", tag=key),
        since=utcnow(),
    )
