"""Atom feeds of a user's posts and of a tag's: the newest 20, absolute URLs on BASE_URL,
stable entry ids (the post's URL: an edit changes `updated`, never `id`), ETag and
Last-Modified with 304 answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from quart import Blueprint, Response, abort, request, url_for

from app import text
from app.api.entities import absolute, post_url, profile_url, tag_url
from app.blueprints.feeds import mentions
from app.blueprints.tags import key_or_404
from app.db import read_session
from app.pagination import EPOCH
from app.queries import posts, tags, users
from app.queries.posts import FeedItem
from app.web import render_template

bp = Blueprint("atom", __name__)
ATOM = "application/atom+xml; charset=utf-8"


@dataclass(frozen=True)
class Entry:
    url: str
    title: str
    published: str
    updated: str
    author: str
    author_url: str
    html: str  # escaped once more by the template: Atom's type="html"


@dataclass(frozen=True)
class Feed:
    title: str
    self_url: str
    page_url: str
    updated: str
    entries: list[Entry]


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


async def _entries(items: list[FeedItem]) -> list[Entry]:
    names = await mentions([item.post.body for item in items])
    return [
        Entry(
            url=post_url(item.post.id),
            title=text.excerpt(item.post.body),
            published=_stamp(item.post.created_at),
            updated=_stamp(item.post.edited_at or item.post.created_at),
            author=item.post.author.username,
            author_url=profile_url(item.post.author.username),
            html=str(text.linkify(item.post.body, names, profile_url, tag_url)),
        )
        for item in items
    ]


def _newest(items: list[FeedItem], default: datetime) -> datetime:
    """When the feed last changed: its newest post or edit (a deletion shows in the ETag)."""
    return max((i.post.edited_at or i.post.created_at for i in items), default=default)


async def _answer(title: str, page_url: str, items: list[FeedItem], since: datetime) -> Response:
    updated = _newest(items, since)
    versions = ",".join(
        f"{i.post.id}:{_stamp(i.post.edited_at or i.post.created_at)}" for i in items
    )
    etag = hashlib.sha256(versions.encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag) or (
        not request.if_none_match
        and request.if_modified_since is not None
        and updated.replace(microsecond=0) <= request.if_modified_since
    ):
        response = Response("", status=304)
    else:
        feed = Feed(title, absolute(request.path), page_url, _stamp(updated), await _entries(items))
        response = Response(await render_template("feeds/atom.xml", feed=feed), mimetype=ATOM)
        response.content_type = ATOM
    response.set_etag(etag)
    response.last_modified = updated
    response.headers["Cache-Control"] = "public, no-cache"
    return response


@bp.get("/user/<username>/feed.atom")
async def user_feed(username: str) -> Response:
    user = await users.get_user_by_username(read_session(), username)
    if user is None or user.suspended_at is not None or not user.approved:
        abort(404, "There is no such user.")
    page = await posts.user_posts(read_session(), user.id)
    return await _answer(
        f"{user.username} on Warble", profile_url(user.username), page.items, user.created_at
    )


@bp.get("/tags/<tag>/feed.atom")
async def tag_feed(tag: str) -> Response:
    key = key_or_404(tag)
    session = read_session()
    page = await posts.tagged_posts(session, key)
    display = await tags.tag_display(session, key) or key
    page_url = absolute(url_for("tags.show", tag=key))
    return await _answer(f"#{display} on Warble", page_url, page.items, EPOCH)
