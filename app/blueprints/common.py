"""Helpers the area blueprints share: cursors from the query string and feed context."""

from __future__ import annotations

from typing import Any

from quart import abort, g, request

from app import queries, text
from app.db import get_session
from app.models import User
from app.pagination import FIRST, Cursor, Page, decode
from app.validation import username_error


def cursor_arg(name: str = "before", default: Cursor | None = FIRST) -> Cursor | None:
    return decode(request.args.get(name), default)  # type: ignore[arg-type]


async def mentions(bodies: list[str]) -> dict[str, str]:
    """The @names in these bodies that belong to real users, for linkify (one query)."""
    return await queries.existing_usernames(get_session(), text.mentioned(bodies))


async def feed_context(page: Page[queries.FeedItem]) -> dict[str, Any]:
    return {
        "page": page,
        "mentions": await mentions([item.post.body for item in page.items]),
        "continued": "before" in request.args,
    }


def current_user() -> User:
    """The logged-in user; views that call this are behind @login_required."""
    user: User | None = g.get("user")
    if user is None:
        abort(401)
    return user


async def user_or_404(username: str) -> User:
    user = None
    if username_error(username) is None:  # a malformed name cannot exist: no lookup
        user = await queries.get_user_by_username(get_session(), username)
    if user is None:
        abort(404, f"User {username} not found.")
    return user
