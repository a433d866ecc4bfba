"""What every page of posts or comments needs beside its rows: the mentioned users, the cursor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import g, request

from app import text
from app.db import read_session
from app.pagination import Cursor, Page
from app.queries import follows, users
from app.queries.posts import FeedItem
from app.web import cursor_arg, optional_cursor_arg

# Back or reload after "Older posts" renders the pages down to `until` again: at most this many.
UNTIL_PAGES_MAX = 10


async def mentions(bodies: list[str]) -> dict[str, str]:
    """The @names in these bodies that belong to real users, for linkify (one query)."""
    return await users.existing_usernames(read_session(), text.mentioned(bodies))


def _newer(a: Cursor, b: Cursor) -> bool:
    assert a.at is not None and b.at is not None  # posts always have a time
    return (a.at, a.id) > (b.at, b.id)


async def feed_page(fetch: Callable[[Cursor], Awaitable[Page[FeedItem]]]) -> Page[FeedItem]:
    """The page of posts the query string names: the one `before` a cursor, or, with `until`
    (which static/app.js writes into the address as older pages load), every page from the
    newest down to that post, so that Back and reload return to where the reader was."""
    page = await fetch(cursor_arg())
    until = optional_cursor_arg("until")
    if until is None or until.at is None or "before" in request.args:
        return page
    items = list(page.items)
    for _ in range(UNTIL_PAGES_MAX - 1):
        if page.next is None or not _newer(page.next, until):
            break
        page = await fetch(page.next)
        items += page.items
    return Page(items, page.next)


async def feed_context(page: Page[FeedItem], follow_buttons: bool = False) -> dict[str, Any]:
    """follow_buttons: offer Follow beside each author the viewer does not follow (explore)."""
    following = None
    if follow_buttons and g.user is not None:
        authors = {item.post.author_id for item in page.items} - {g.user.id}
        following = await follows.followed_among(read_session(), g.user.id, authors)
    return {
        "page": page,
        "mentions": await mentions([item.post.body for item in page.items]),
        "continued": "before" in request.args,
        "followed_ids": following,
    }
