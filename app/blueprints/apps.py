"""Settings → Authorized apps: the client apps holding the user's OAuth tokens, and Revoke."""

from __future__ import annotations

from quart import Blueprint, abort, flash, redirect, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app.db import read_session, write_session
from app.queries import oauth
from app.sessions import signed_in_user
from app.web import announce, is_htmx, render_template

bp = Blueprint("apps", __name__)


@bp.get("/settings/apps")
@login_required
async def list_apps() -> ResponseReturnValue:
    apps = await oauth.authorized_apps(read_session(), signed_in_user().id)
    return await render_template("pages/authorized_apps.html", apps=apps)


@bp.post("/settings/apps/<id:app_id>/revoke")
@login_required
async def revoke(app_id: int) -> ResponseReturnValue:
    """Every token the user gave the app ends at once (the next API request is a 401)."""
    me = signed_in_user()
    session = await write_session()
    if not await oauth.revoke_app(session, me.id, app_id):
        abort(404, "That app has no access to your account.")
    await session.commit()
    if is_htmx():
        return "", 200, announce("Access revoked")  # its row is swapped for nothing
    await flash("That app no longer has access to your account.", "success")
    return redirect(url_for("apps.list_apps"))
