"""Accounts: register, log in, log out."""

from __future__ import annotations

from quart import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from app import auth, queries
from app.db import get_session, rollback
from app.limits import client_address, limited, login_username
from app.passwords import hash_password, needs_rehash, verify_password
from app.validation import email_error, password_error, safe_next, username_error
from app.web import render, rotate_csrf_token

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Incorrect username or password"


async def _registration_errors(username: str, email: str, password: str) -> dict[str, str]:
    errors = {
        field: message
        for field, message in (
            ("username", username_error(username)),
            ("email", email_error(email)),
            ("password", password_error(password)),
        )
        if message
    }
    session = get_session()
    if "username" not in errors and await queries.username_taken(session, username):
        errors["username"] = "That username is taken. Please choose another."
    if "email" not in errors and await queries.email_taken(session, email):
        errors["email"] = "That email address is already registered."
    return errors


@bp.get("/register")
async def register_form() -> ResponseReturnValue:
    if g.user is not None:
        return redirect(url_for("timeline.index"))
    return await render("pages/register.html", "partials/register_form.html", errors={}, form={})


@bp.post("/register")
@limited(("RATE_LIMIT_AUTH", client_address))
async def register() -> ResponseReturnValue:
    if not current_app.config["REGISTRATION_OPEN"]:
        abort(403, "Registration is closed on this Warble.")
    form = await request.form
    username = form.get("username", "").strip()
    email = form.get("email", "").strip()
    password = form.get("password", "")
    values = {"username": username, "email": email}
    errors = await _registration_errors(username, email, password)
    if errors:
        return await _register_again(values, errors)
    session = get_session()
    try:
        user = await queries.create_user(session, username, email, await hash_password(password))
        await session.commit()
    except IntegrityError:  # someone took the name or address a moment ago
        await rollback()
        return await _register_again(values, await _registration_errors(username, email, password))
    auth.start_session(user, remember=False)
    rotate_csrf_token()
    await flash(f"Welcome to Warble, {user.username}!", "success")
    return redirect(url_for("timeline.index"))


async def _register_again(values: dict[str, str], errors: dict[str, str]) -> ResponseReturnValue:
    return await render(
        "pages/register.html", "partials/register_form.html", 422, errors=errors, form=values
    )


@bp.get("/login")
async def login_form() -> ResponseReturnValue:
    next_url = safe_next(request.args.get("next"))
    if g.user is not None:
        return redirect(next_url)
    return await render(
        "pages/login.html", "partials/login_form.html", error=None, form={}, next_url=next_url
    )


@bp.post("/login")
@limited(("RATE_LIMIT_AUTH", client_address), ("RATE_LIMIT_LOGIN_USER", login_username))
async def login() -> ResponseReturnValue:
    form = await request.form
    username = form.get("username", "").strip()
    password = form.get("password", "")
    next_url = safe_next(form.get("next") or request.args.get("next"))
    session = get_session()
    known = username_error(username) is None  # a malformed name cannot exist: no lookup
    user = await queries.get_user_by_username(session, username) if known else None
    if not await verify_password(user.password_hash if user else None, password):
        return await render(
            "pages/login.html",
            "partials/login_form.html",
            422,
            error=LOGIN_FAILED,
            form={"username": username},
            next_url=next_url,
        )
    if needs_rehash(user.password_hash):
        await queries.set_password_hash(session, user.id, await hash_password(password))
        await session.commit()
    auth.start_session(user, remember=form.get("remember", "") in {"on", "1", "true", "yes"})
    rotate_csrf_token()
    return redirect(next_url)


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    auth.end_session()
    rotate_csrf_token()
    await flash("You have logged out.", "info")
    return redirect(url_for("timeline.index"))
