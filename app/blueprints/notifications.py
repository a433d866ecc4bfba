"""GET /notifications: what happened to you, newest first; seeing it marks it read."""

from __future__ import annotations

from quart import Blueprint, g
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app import text
from app.clock import utcnow
from app.db import read_session, write_session
from app.queries import notifications, users
from app.sessions import signed_in_user
from app.web import cursor_arg, render

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
async def index() -> ResponseReturnValue:
    """Writes: the shown notifications become read (one UPDATE, only when some were unread),
    and the viewer's other pages hear that their count changed."""
    me = signed_in_user()
    page = await notifications.page_of(read_session(), me.id, cursor_arg())
    bodies = [body for item in page.items for body in (item.post_body, item.comment_body) if body]
    names = await users.existing_usernames(read_session(), text.mentioned(bodies))
    unread = {item.notification.id for item in page.items if item.notification.read_at is None}
    if unread:
        session = await write_session()
        await notifications.mark_read(session, me.id, sorted(unread), utcnow())
        await session.commit()
        g.unread = await notifications.unread_count(session, me.id)
    return await render(
        "pages/notifications.html",
        "partials/notification_items.html",
        page=page,
        unread=unread,
        mentions=names,
    )
