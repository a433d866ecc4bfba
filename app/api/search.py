"""Search in the client API: GET /api/v2/search, on Warble's own search (queries/search.py).

https://docs.joinmastodon.org/methods/search/ — accounts: the exact name first (toot finds an
account to follow that way), then names starting with the word; hashtags: tags starting with
it; statuses: the posts that match, newest first. `offset` pages nothing further: an offset
beyond the first page finds nothing (Warble pages search by cursor, not by offset).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import UnprocessableEntity

from app.api import entities, http
from app.api.accounts import local_name
from app.api.auth import viewer_with
from app.api.load import context_for
from app.db import read_session
from app.queries import search, tags, users
from app.text import clean

bp = Blueprint("api_search", __name__)
TYPES = ("accounts", "hashtags", "statuses")


@bp.get("/api/v2/search")
async def search_v2() -> ResponseReturnValue:
    viewer = await viewer_with("read:search")
    q = clean(request.args.get("q", ""))  # no NUL or lone surrogate reaches a query
    kind = request.args.get("type") or None
    if kind is not None and kind not in TYPES:
        raise UnprocessableEntity(f"type must be one of {', '.join(TYPES)}")
    limit = http.paging().limit
    offset = request.args.get("offset", "0")
    if not (offset.isascii() and offset.isdigit()):
        raise UnprocessableEntity("offset must be a whole number")
    empty: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if not q.strip() or int(offset) > 0:
        return empty
    query = search.parse(q)
    me = viewer.id if viewer else None
    session = read_session()
    found = dict(empty)
    if kind in (None, "accounts"):
        found["accounts"] = await _accounts(q, query, me, limit)
    if kind in (None, "hashtags") and (prefix := query.tag or query.tag_prefix):
        found["hashtags"] = [
            entities.tag(t.key, t.display) for t in await tags.tags_by_prefix(session, prefix)
        ][:limit]
    if kind in (None, "statuses") and query.finds_posts:
        page = await search.search_posts(session, query, viewer=me)
        ctx = await context_for(page.items)
        found["statuses"] = [entities.status(item, ctx) for item in page.items[:limit]]
    return found


async def _accounts(q: str, query: search.Query, me: int | None, limit: int) -> list[Any]:
    """The account named exactly (`@name`, `name@host`) first, then names starting with the
    query; both as people search lists them (app/queries/visibility.py: listed)."""
    session = read_session()
    name = (local_name(q) or "").lower()
    prefixes = [prefix for prefix in dict.fromkeys((name, query.name_prefix)) if prefix]
    found = {p: await search.people_by_prefix(session, p, me) for p in prefixes}  # one or two
    people = [p.user for p in found.get(name, []) if p.user.username.lower() == name]
    people += [p.user for p in found.get(query.name_prefix or "", [])]
    shown = list(dict.fromkeys(people))[:limit]
    counts = await users.counts_of(session, {u.id for u in shown})
    return [entities.account(u, counts[u.id]) for u in shown]
