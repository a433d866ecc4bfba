"""Blocking and muting: the profile's "…" menu, and Settings → Blocked and muted accounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from quart import Blueprint, abort, flash, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from sqlalchemy.ext.asyncio import AsyncSession

from app.blueprints.feeds import feed_context
from app.blueprints.users import profile_posts, user_or_404
from app.clock import utcnow
from app.db import read_session, write_session
from app.limits import account, limited
from app.models import User
from app.pagination import FIRST
from app.queries import blocks, follows
from app.sessions import signed_in_user
from app.web import announce, cursor_arg, is_htmx, render_template, safe_next

bp = Blueprint("blocks", __name__)

Action = Callable[[AsyncSession, int, int], Awaitable[bool]]


class Verb(NamedTuple):
    """What one of the four buttons writes and says."""

    write: Action
    done: str  # flashed after a plain form
    said: str  # announced after htmx
    listed: str  # the settings list it belongs to
    active: bool  # blocked (muted) afterwards


VERBS = {
    "block": Verb(blocks.block, "You blocked {}.", "Blocked {}", "blocked", True),
    "unblock": Verb(blocks.unblock, "You unblocked {}.", "Unblocked {}", "blocked", False),
    "mute": Verb(blocks.mute, "You muted {}.", "Muted {}", "muted", True),
    "unmute": Verb(blocks.unmute, "You unmuted {}.", "Unmuted {}", "muted", False),
}


async def _act(username: str, verb: str) -> ResponseReturnValue:
    """Block, unblock, mute or unmute, idempotently. htmx gets the part of the page that
    changed (the profile's actions and posts, or the settings list's line); a plain form is
    sent back where it came from (`next`)."""
    me = signed_in_user()
    user = await user_or_404(username)
    if user.id == me.id:
        abort(400, f"You cannot {verb} yourself.")
    what = VERBS[verb]
    session = await write_session()
    await what.write(session, me.id, user.id)
    await session.commit()
    form = await request.form
    next_url = safe_next(form.get("next"), url_for("users.profile", username=user.username))
    if not is_htmx():
        await flash(what.done.format(user.username), "success")
        return redirect(next_url)
    if form.get("from") == "settings":
        listed = blocks.Listed(user, utcnow(), what.active)
        html = await render_template("partials/blocked_item.html", listed=listed, which=what.listed)
    else:
        html = await _profile_answer(user, verb, next_url)
    return html, 200, announce(what.said.format(user.username))


async def _profile_answer(user: User, verb: str, next_url: str) -> str:
    """The profile's actions again, its counts out of band (a block ends follows), and for a
    block or an unblock its posts out of band (gone, or back)."""
    me = signed_in_user()
    relations = await follows.relations(read_session(), user.id, me.id)
    context: dict[str, Any] = {"page": None}
    if verb == "unblock" and not relations.blocks_me and not user.suspended_at:
        context = await feed_context(await profile_posts(user, me.id))
        # "Older posts" continues the profile, not this POST's URL.
        context |= {"feed_endpoint": "users.profile", "filters": {"username": user.username}}
    return await render_template(
        "partials/profile_actions.html",
        user=user,
        next_url=next_url,
        oob=True,
        posts_oob=verb in {"block", "unblock"},
        **relations._asdict(),
        **context,
    )


@bp.post("/user/<username>/block")
@limited(("RATE_LIMIT_FOLLOW", account))
@login_required
async def block(username: str) -> ResponseReturnValue:
    return await _act(username, "block")


@bp.post("/user/<username>/unblock")
@limited(("RATE_LIMIT_FOLLOW", account))
@login_required
async def unblock(username: str) -> ResponseReturnValue:
    return await _act(username, "unblock")


@bp.post("/user/<username>/mute")
@limited(("RATE_LIMIT_FOLLOW", account))
@login_required
async def mute(username: str) -> ResponseReturnValue:
    return await _act(username, "mute")


@bp.post("/user/<username>/unmute")
@limited(("RATE_LIMIT_FOLLOW", account))
@login_required
async def unmute(username: str) -> ResponseReturnValue:
    return await _act(username, "unmute")


LISTS = ("blocked", "muted")


@bp.get("/settings/blocks")
@login_required
async def settings() -> ResponseReturnValue:
    """The accounts the user blocks and mutes, each list newest first with its own cursor
    (`?list=blocked&before=...`); htmx: the next page of one list."""
    me = signed_in_user()
    which = request.args.get("list", "")
    if which not in (*LISTS, ""):
        abort(400, "There are two lists: blocked and muted.")
    session, cursor = read_session(), cursor_arg()
    if is_htmx() and which:
        lister = blocks.blocked_by if which == "blocked" else blocks.muted_by
        page = await lister(session, me.id, cursor)
        return await render_template("partials/blocked_items.html", page=page, which=which)
    blocked = await blocks.blocked_by(session, me.id, cursor if which == "blocked" else FIRST)
    muted = await blocks.muted_by(session, me.id, cursor if which == "muted" else FIRST)
    return await render_template("pages/blocks.html", blocked=blocked, muted=muted)
