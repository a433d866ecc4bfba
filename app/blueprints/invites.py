"""Settings → Invites: sign-up links with a use count and an expiry (REGISTRATION=invite).

INVITES=users lets everyone create them, INVITES=admins only administrators."""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, abort, current_app, flash, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app.clock import utcnow
from app.db import read_session, write_session
from app.limits import account, limited
from app.links import absolute_url
from app.models import Invite, User
from app.queries import invites
from app.sessions import signed_in_user
from app.web import announce, is_htmx, render_template

bp = Blueprint("invites", __name__)

# The choices Mastodon offers, as (form value, label, value).
MAX_USES: dict[str, tuple[str, int | None]] = {
    "1": ("1 use", 1),
    "5": ("5 uses", 5),
    "10": ("10 uses", 10),
    "25": ("25 uses", 25),
    "50": ("50 uses", 50),
    "100": ("100 uses", 100),
    "unlimited": ("No limit", None),
}
EXPIRY: dict[str, tuple[str, timedelta | None]] = {
    "30m": ("30 minutes", timedelta(minutes=30)),
    "1h": ("1 hour", timedelta(hours=1)),
    "6h": ("6 hours", timedelta(hours=6)),
    "12h": ("12 hours", timedelta(hours=12)),
    "1d": ("1 day", timedelta(days=1)),
    "1w": ("1 week", timedelta(weeks=1)),
    "never": ("Never", None),
}


def may_invite(user: User) -> bool:
    return current_app.config["INVITES"] == "users" or user.role == "admin"


def link(invite: Invite) -> str:
    """The sign-up link to share: on BASE_URL, never on the Host header the page was asked with."""
    return absolute_url("accounts.register", invite=invite.code)


async def _page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    me = signed_in_user()
    mine = await invites.invites_of(read_session(), me.id) if may_invite(me) else []
    html = await render_template(
        "pages/invites.html",
        invites=mine,
        allowed=may_invite(me),
        max_uses=MAX_USES,
        expiry=EXPIRY,
        link=link,
        now=utcnow(),
        error=error,
    )
    return html, status


@bp.get("/settings/invites")
@login_required
async def index() -> ResponseReturnValue:
    return await _page()


@bp.post("/settings/invites")
@limited(("RATE_LIMIT_WRITE", account))
@login_required
async def create() -> ResponseReturnValue:
    me = signed_in_user()
    if not may_invite(me):
        abort(403, "Only administrators create invites on this Warble.")
    form = await request.form
    uses, expires = form.get("max_uses", ""), form.get("expires_in", "")
    if uses not in MAX_USES or expires not in EXPIRY:
        return await _page(422, "Choose how many times the link works, and for how long.")
    now, after = utcnow(), EXPIRY[expires][1]
    session = await write_session()
    await invites.create_invite(
        session,
        me.id,
        max_uses=MAX_USES[uses][1],
        expires_at=now + after if after is not None else None,
        now=now,
    )
    await session.commit()
    await flash("Your invite link is ready: copy it from the list.", "success")
    return redirect(url_for("invites.index"))


@bp.post("/settings/invites/<id:invite_id>/expire")
@login_required
async def expire(invite_id: int) -> ResponseReturnValue:
    me, now = signed_in_user(), utcnow()
    session = await write_session()
    if not await invites.expire_invite(session, invite_id, me.id, now):
        abort(404, "Invite not found.")
    await session.commit()
    if is_htmx():
        invite = await session.get(Invite, invite_id)
        html = await render_template("partials/invite.html", invite=invite, link=link, now=now)
        return html, 200, announce("Invite expired")
    await flash("That invite link no longer works.", "info")
    return redirect(url_for("invites.index"))
