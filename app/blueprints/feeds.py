"""What every page of posts or comments needs beside its rows: the mentioned users, the cursor."""

from __future__ import annotations

from typing import Any

from quart import request

from app import text
from app.db import read_session
from app.pagination import Page
from app.queries import users
from app.queries.posts import FeedItem


async def mentions(bodies: list[str]) -> dict[str, str]:
    """The @names in these bodies that belong to real users, for linkify (one query)."""
    return await users.existing_usernames(read_session(), text.mentioned(bodies))


async def feed_context(page: Page[FeedItem]) -> dict[str, Any]:
    return {
        "page": page,
        "mentions": await mentions([item.post.body for item in page.items]),
        "continued": "before" in request.args,
    }
