"""What every API view shares: its parameters (query, form or JSON), paging by Mastodon's
max_id / since_id / min_id / limit with a Link header, and JSON errors."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

from quart import current_app, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, UnprocessableEntity

from app.pagination import MAX_ID, Cursor, InvalidCursor, Page, decode

T = TypeVar("T")
LIMIT_DEFAULT, LIMIT_MAX = 20, 40
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
Params = dict[str, Any]


def json_error(error: HTTPException) -> tuple[dict[str, str], int, dict[str, str]]:
    """`{"error": "..."}` with the error's status, as Mastodon answers."""
    code = error.code or 500
    message = error.description or error.name
    if code == 500:
        message = "Internal server error"  # never the details of a crash
    elif code == 404 and "requested URL was not found" in message:
        message = "Record not found"
    elif code == 405:
        message = "This method is not allowed here"
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return {"error": message}, code, headers


async def params() -> Params:
    """The request's parameters: the query string, then a form or JSON body (clients send
    either: Mastodon.py forms, toot JSON). `name[]` arrives as a list under `name`."""
    found: Params = {}
    _merge(found, request.args.lists())
    if request.mimetype == "application/json":
        body = await request.get_json(silent=True)
        if body is None and (await request.get_data()):
            raise BadRequest("The body is not valid JSON")
        if body is not None and not isinstance(body, dict):
            raise UnprocessableEntity("The JSON body must be an object")
        found |= body or {}
    else:
        _merge(found, (await request.form).lists())
    return found


def _merge(into: Params, pairs: Any) -> None:
    for key, values in pairs:
        if key.endswith("[]"):
            into[key[:-2]] = list(values)
        else:
            into[key] = values[-1]


def text(found: Params, name: str, default: str | None = None) -> str | None:
    """A string parameter; anything else (a number, a list) is a 422."""
    value = found.get(name, default)
    if value is None:
        return value
    if not isinstance(value, str):
        raise UnprocessableEntity(f"{name} must be a string")
    if NOT_TEXT.search(value):
        # PostgreSQL refuses NUL in text and a lone surrogate does not encode: never stored.
        raise UnprocessableEntity(f"{name} holds characters that are not text")
    return value


def flag(found: Params, name: str) -> bool:
    """A boolean as clients send it: true/false, 1/0 (Mastodon.py), or JSON's own."""
    value = found.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
        return value.lower() in ("true", "1")
    raise UnprocessableEntity(f"{name} must be true or false")


def record_id(raw: Any, what: str = "Record") -> int:
    """An id in a URL or a parameter: digits that fit the tables, else 404 (as Mastodon)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise_not_found(what)
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise_not_found(what)
    return value


def raise_not_found(what: str = "Record") -> NoReturn:
    raise NotFound(f"{what} not found")


@dataclass(frozen=True)
class Paging:
    limit: int
    max: str | None  # a cursor ("stamp.id", as Warble's Link headers write) or a row id
    since: str | None  # since_id: the newest ones after it
    min: str | None  # min_id: the ones right after it


def paging() -> Paging:
    raw = request.args.get("limit", "")
    if raw == "":
        limit = LIMIT_DEFAULT
    elif raw.isascii() and raw.isdigit() and len(raw) < 6:
        limit = min(max(int(raw), 1), LIMIT_MAX)
    else:
        raise UnprocessableEntity("limit must be a whole number")
    args = request.args
    return Paging(
        limit, args.get("max_id") or None, args.get("since_id") or None, args.get("min_id") or None
    )


async def cursor_of(
    raw: str | None, lookup: Callable[[int], Awaitable[Cursor | None]], default: Cursor
) -> Cursor:
    """A max_id/since_id: Warble's own cursor (from a Link header: no lookup), or the id of a
    row, whose time is looked up (one statement). An unknown id is a 404... except that a
    client paging with the id of a row deleted since has nothing to page from either."""
    if raw is None:
        return default
    if "." in raw:
        try:
            return decode(raw)
        except InvalidCursor:
            raise UnprocessableEntity("Not a valid page cursor") from None
    found = await lookup(record_id(raw))
    if found is None:
        raise_not_found()
    return found


async def take(
    fetch: Callable[[Cursor], Awaitable[Page[T]]],
    cursor: Cursor,
    limit: int,
    key: Callable[[T], Cursor],
    since: Cursor | None = None,
) -> tuple[list[T], Cursor | None]:
    """`limit` items from `cursor` on, read in the queries' own pages of 20 (so at most two
    statements for 40), stopping at `since`; and where the next page starts (None: the end)."""
    items: list[T] = []
    page = await fetch(cursor)
    while True:
        for item in page.items:
            if since is not None and not _newer(key(item), since):
                return items, None
            items.append(item)
        if len(items) >= limit or page.next is None:
            break
        page = await fetch(page.next)
    if len(items) > limit:
        return items[:limit], key(items[limit - 1])
    if page.next is None:
        return items, None
    return items, key(items[-1]) if items else None


def _newer(a: Cursor, b: Cursor) -> bool:
    if a.at is None or b.at is None:
        return a.id > b.id
    return (a.at, a.id) > (b.at, b.id)


def link_header(
    items: list[T], next_cursor: Cursor | None, key: Callable[[T], Cursor], limit: int
) -> dict[str, str]:
    """Link: next first (toot reads only the first entry), then prev; absolute, on BASE_URL."""
    if not items:
        return {}
    base = current_app.config["BASE_URL"] + request.path
    args = {k: v for k, v in request.args.items() if k not in ("max_id", "since_id", "min_id")}
    args["limit"] = str(limit)
    links = []
    if next_cursor is not None:
        links.append(f'<{base}?{urlencode(args | {"max_id": next_cursor.encode()})}>; rel="next"')
    first = key(items[0]).encode()
    links.append(f'<{base}?{urlencode(args | {"min_id": first})}>; rel="prev"')
    return {"Link": ", ".join(links)}
