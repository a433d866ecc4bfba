"""Accounts: register, log in, log out, change the password."""

from __future__ import annotations

from quart import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from quart import session as cookie_session
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app import accounts, sessions
from app.db import read_session, write_session
from app.limits import client_address, limited, login_username
from app.passwords import hash_password, needs_rehash, verify_password
from app.queries import users
from app.web import render_template, safe_next

bp = Blueprint("accounts", __name__)

LOGIN_FAILED = "Incorrect username or password"


@bp.get("/register")
async def register_form() -> ResponseReturnValue:
    if g.user is not None:
        return redirect(url_for("timeline.index"))
    return await render_template("pages/register.html", errors={}, form={})


@bp.post("/register")
@limited(("RATE_LIMIT_AUTH", client_address))
async def register() -> ResponseReturnValue:
    if not current_app.config["REGISTRATION_OPEN"]:
        abort(403, "Registration is closed on this Warble.")
    form = await request.form
    username = form.get("username", "").strip()
    email = form.get("email", "").strip()
    try:
        user = await accounts.create_account(
            await write_session(), username, email, form.get("password", "")
        )
    except accounts.Rejected as rejected:
        form_values = {"username": username, "email": email}
        html = await render_template(
            "pages/register.html", errors=rejected.errors, form=form_values
        )
        return html, 422
    sessions.start_session(user, remember=False)
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
    username = form.get("username", "").strip()
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
    if needs_rehash(user.password_hash):
        session = await write_session()
        await users.set_password_hash(session, user.id, await hash_password(password))
        await session.commit()
    sessions.start_session(user, remember=form.get("remember", "") in {"on", "1", "true", "yes"})
    return redirect(next_url)


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    sessions.end_session()
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
    me.session_epoch = await accounts.set_password(
        await write_session(), me.id, form["new_password"]
    )
    sessions.start_session(me, remember=bool(cookie_session.get("remember")))
    await flash("Password changed. Your other sessions have been logged out.", "success")
    return redirect(url_for("users.profile", username=me.username))
