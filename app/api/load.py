"""What a page of API entities reads beside its rows, once per page whatever its length:
the counts of every account it shows (one statement) and the users its posts mention (one)."""

from __future__ import annotations

from collections.abc import Iterable

from app import text
from app.api.entities import Context
from app.db import read_session
from app.models import User
from app.queries import users
from app.queries.posts import FeedItem


async def context_for(items: Iterable[FeedItem], people: Iterable[User] = ()) -> Context:
    items = list(items)
    ids = {item.post.author_id for item in items} | {user.id for user in people}
    session = read_session()
    counts = await users.counts_of(session, ids)
    names = text.mentioned([item.post.body for item in items])
    mentioned = {user.username.lower(): user for user in await users.users_named(session, names)}
    return Context(counts, mentioned)
