"""Notifications in the client API: the list, one, dismiss one, clear all.

https://docs.joinmastodon.org/methods/notifications/ — Warble's kinds map to Mastodon's types
in entities.NOTIFICATION_TYPES (a comment on your post is a "mention" carrying the post).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from app.api import entities, http
from app.api.auth import user_with
from app.api.load import context_for
from app.db import read_session, write_session
from app.models import Report, User
from app.pagination import FIRST, PAGE_SIZE, Cursor
from app.queries import moderation, notifications, posts
from app.queries.notifications import Item
from app.queries.search import BY_ID

bp = Blueprint("api_notifications", __name__)


def _key(item: Item) -> Cursor:
    return Cursor(item.notification.created_at, item.notification.id)


async def _render(found: list[Item], me: User) -> list[dict[str, Any]]:
    """The notifications with their accounts and posts: three statements for a page, and a
    fourth for the reports a moderator is told about (admin.report carries the report)."""
    session = read_session()
    ids = sorted({i.notification.post_id for i in found if i.notification.post_id is not None})
    items = posts.items(await session.execute(BY_ID, {"ids": ids, "viewer": me.id})) if ids else []
    by_id = {item.post.id: item for item in items}
    reports = await _reports(found)
    people = [i.notification.actor for i in found] + [r.account for r in reports.values()]
    ctx = await context_for(items, people)
    out = []
    for i in found:
        n = i.notification
        post = by_id.get(n.post_id) if n.post_id is not None else None
        found_report = reports.get(n.report_id) if n.report_id is not None else None
        out.append(
            entities.notification(
                n,
                entities.status(post, ctx) if post else None,
                entities.report(found_report, ctx) if found_report else None,
                ctx,
            )
        )
    return out


async def _reports(found: list[Item]) -> dict[int, Report]:
    """The reports of a page's admin.report notifications, by id (a report's notifications go
    with it, so each is there)."""
    ids = {i.notification.report_id for i in found if i.notification.report_id is not None}
    return await moderation.reports_by_id(read_session(), ids)


def _wanted(found: list[Item]) -> list[Item]:
    types = set(request.args.getlist("types[]") or request.args.getlist("types"))
    excluded = set(request.args.getlist("exclude_types[]") or request.args.getlist("exclude_types"))

    def shown(item: Item) -> bool:
        kind = entities.NOTIFICATION_TYPES.get(item.notification.kind, item.notification.kind)
        return (not types or kind in types) and kind not in excluded

    return [item for item in found if shown(item)]


@bp.get("/api/v1/notifications")
async def index() -> ResponseReturnValue:
    me = await user_with("read:notifications")
    session = read_session()
    paging = http.paging()

    async def lookup(notification_id: int) -> Cursor | None:
        return await notifications.cursor_of(session, me.id, notification_id)

    if paging.min is not None:  # the ones right after it, at most a page
        after = await notifications.right_after(
            session, me.id, await http.cursor_of(paging.min, lookup, FIRST)
        )
        found = after[-min(paging.limit, PAGE_SIZE) :]
        next_cursor = _key(found[-1]) if found else None
    else:
        cursor = await http.cursor_of(paging.max, lookup, FIRST)
        since = await http.cursor_of(paging.since, lookup, FIRST) if paging.since else None

        async def fetch(c: Cursor) -> Any:
            return await notifications.page_of(session, me.id, c)

        found, next_cursor = await http.take(fetch, cursor, paging.limit, _key, since)
    body = await _render(_wanted(found), me)
    return body, 200, http.link_header(found, next_cursor, _key, paging.limit)


@bp.get("/api/v1/notifications/<id:notification_id>")
async def show(notification_id: int) -> ResponseReturnValue:
    me = await user_with("read:notifications")
    session = read_session()
    cursor = await notifications.cursor_of(session, me.id, notification_id)
    if cursor is None:
        raise NotFound("Record not found")
    page = await notifications.page_of(session, me.id, Cursor(cursor.at, cursor.id + 1))
    found = [i for i in page.items if i.notification.id == notification_id]
    if not found:
        raise NotFound("Record not found")
    return (await _render(found, me))[0]


@bp.post("/api/v1/notifications/<id:notification_id>/dismiss")
async def dismiss(notification_id: int) -> ResponseReturnValue:
    me = await user_with("write:notifications")
    session = await write_session()
    if not await notifications.dismiss(session, me.id, notification_id):
        raise NotFound("Record not found")
    await session.commit()
    return {}


@bp.post("/api/v1/notifications/clear")
async def clear() -> ResponseReturnValue:
    me = await user_with("write:notifications")
    session = await write_session()
    await notifications.clear(session, me.id)
    await session.commit()
    return {}
