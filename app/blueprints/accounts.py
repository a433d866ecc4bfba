"""Accounts: register, log in, log out, change the password, see and end sessions."""

from __future__ import annotations

from quart import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from werkzeug.datastructures import MultiDict

from app import accounts, sessions
from app.clock import utcnow
from app.db import read_session, write_session
from app.limits import client_address, limited, login_username
from app.models import User
from app.passwords import hash_password, needs_rehash, verify_password
from app.queries import user_sessions, users
from app.text import clean
from app.web import is_htmx, render_template, safe_next

bp = Blueprint("accounts", __name__)

LOGIN_FAILED = "Incorrect username or password"
SUSPENDED = "This account is suspended. Contact the administrators of this Warble."
WAITING = "Your account is waiting for an administrator's approval. Try again later."


def login_refusal(user: User) -> str | None:
    """Why a user who gave the right password still may not log in (said only to them)."""
    if user.suspended_at is not None:
        return SUSPENDED
    if not user.approved:
        return WAITING
    return None


@bp.get("/register")
async def register_form() -> ResponseReturnValue:
    if g.user is not None:
        return redirect(url_for("timeline.index"))
    form = {"invite": request.args.get("invite", "").strip()[:32]}
    return await render_template("pages/register.html", errors={}, form=form)


@bp.post("/register")
@limited(("RATE_LIMIT_AUTH", client_address))
async def register() -> ResponseReturnValue:
    """Sign up as REGISTRATION allows: at once (open), waiting for an admin (approval), with
    an invite code (invite), or not at all (closed)."""
    mode = current_app.config["REGISTRATION"]
    if mode == "closed":
        abort(403, "Registration is closed on this Warble.")
    form = await request.form
    values = _registration_values(form)
    session = await write_session()
    try:
        user = await accounts.create_account(
            session,
            values["username"],
            values["email"],
            form.get("password", ""),
            signup_reason=values["signup_reason"] if mode == "approval" else None,
            invite_code=values["invite"] if mode == "invite" else None,
        )
    except accounts.Rejected as rejected:
        html = await render_template("pages/register.html", errors=rejected.errors, form=values)
        return html, 422
    return await _welcome(user)


def _registration_values(form: MultiDict[str, str]) -> dict[str, str]:
    """What the form shows again after a refusal (all but the password)."""
    return {
        "username": accounts.normalize_username(form.get("username", "")),
        "email": form.get("email", "").strip(),
        "signup_reason": clean(form.get("signup_reason", "")),
        "invite": form.get("invite", "").strip(),
    }


async def _welcome(user: User) -> ResponseReturnValue:
    """A new account is logged in, unless it waits for an admin's approval (no session)."""
    if not user.approved:
        return await render_template("pages/register_waiting.html", user=user)
    session = await write_session()
    await sessions.start_session(session, user, remember=False)
    await session.commit()
    await flash(f"Welcome to Warble, {user.username}!", "success")
    return redirect(url_for("timeline.index"))


@bp.get("/login")
async def login_form() -> ResponseReturnValue:
    next_url = safe_next(request.args.get("next"))
    if g.user is not None:
        return redirect(next_url)
    return await render_template("pages/login.html", error=None, form={}, next_url=next_url)


@bp.post("/login")
@limited(("RATE_LIMIT_AUTH", client_address), ("RATE_LIMIT_LOGIN_USER", login_username))
async def login() -> ResponseReturnValue:
    form = await request.form
    username = accounts.normalize_username(form.get("username", ""))
    password = form.get("password", "")
    next_url = safe_next(form.get("next") or request.args.get("next"))
    known = accounts.username_error(username) is None  # a malformed name cannot exist: no lookup
    user = await users.get_user_by_username(read_session(), username) if known else None
    # No such user costs one verification too: both failures take the same time.
    if not await verify_password(user.password_hash if user else None, password) or not user:
        values = {"username": username}
        return await render_template(
            "pages/login.html", error=LOGIN_FAILED, form=values, next_url=next_url
        ), 422
    if refusal := login_refusal(user):
        values = {"username": username}
        return await render_template(
            "pages/login.html", error=refusal, form=values, next_url=next_url
        ), 403
    session = await write_session()
    if needs_rehash(user.password_hash):
        await users.set_password_hash(session, user.id, await hash_password(password))
    remember = form.get("remember", "") in {"on", "1", "true", "yes"}
    await sessions.start_session(session, user, remember=remember)
    await session.commit()
    return redirect(next_url)


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    session = await write_session()
    await sessions.end_session(session)
    await session.commit()
    await flash("You have logged out.", "info")
    return redirect(url_for("timeline.index"))


@bp.get("/settings/password")
@login_required
async def password_form() -> ResponseReturnValue:
    return await render_template("pages/password.html", errors={})


@bp.post("/settings/password")
@limited(("RATE_LIMIT_AUTH", client_address))
@login_required
async def change_password() -> ResponseReturnValue:
    """A new password; every other session of the account ends, this one continues."""
    me = sessions.signed_in_user()
    form = await request.form
    errors: dict[str, str] = {}
    if not await verify_password(me.password_hash, form.get("current_password", "")):
        errors["current_password"] = "That is not your current password."  # noqa: S105
    if message := accounts.password_error(form.get("new_password", "")):
        errors["new_password"] = message
    if errors:
        return await render_template("pages/password.html", errors=errors), 422
    session = await write_session()
    await accounts.set_password(session, me.id, form["new_password"])
    await sessions.start_session(session, me, remember=sessions.current_login().remember)
    await session.commit()
    await flash("Password changed. Your other sessions have been logged out.", "success")
    return redirect(url_for("users.profile", username=me.username))


@bp.get("/settings/sessions")
@login_required
async def sessions_list() -> ResponseReturnValue:
    me, here = sessions.signed_in_user(), sessions.current_login()
    logins = await user_sessions.sessions_of(read_session(), me.id, utcnow())
    return await render_template("pages/sessions.html", logins=logins, here=here.id)


@bp.post("/settings/sessions/<id:session_id>/end")
@login_required
async def end_session(session_id: int) -> ResponseReturnValue:
    """Log out one session: this one (then it is a logout), or another of the account's."""
    me, here = sessions.signed_in_user(), sessions.current_login()
    session = await write_session()
    if session_id == here.id:
        await sessions.end_session(session)
        await session.commit()
        await flash("You have logged out.", "info")
        return redirect(url_for("timeline.index"))
    if not await user_sessions.end_session(session, me.id, session_id):
        abort(404, "That session has already ended.")
    await session.commit()
    if is_htmx():
        return ""  # its row is swapped for nothing
    await flash("That session is logged out.", "success")
    return redirect(url_for("accounts.sessions_list"))


@bp.post("/settings/sessions/end-others")
@login_required
async def end_other_sessions() -> ResponseReturnValue:
    me, here = sessions.signed_in_user(), sessions.current_login()
    session = await write_session()
    await user_sessions.end_sessions(session, me.id, except_id=here.id)
    await session.commit()
    await flash("Every other session is logged out.", "success")
    return redirect(url_for("accounts.sessions_list"))
