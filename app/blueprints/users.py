"""Profiles, follower lists, following, profile settings and avatars."""

from __future__ import annotations

from quart import Blueprint, Response, abort, flash, g, redirect, request, url_for
from quart import session as quart_session
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from sqlalchemy.exc import IntegrityError

from app import auth, queries
from app.blueprints.common import current_user, cursor_arg, feed_context, user_or_404
from app.db import get_session, rollback
from app.limits import account, client_address, limited
from app.passwords import hash_password, verify_password
from app.text import clean, identicon_svg
from app.validation import about_error, email_error, password_error, safe_next
from app.web import is_htmx, render, render_template, rotate_csrf_token

bp = Blueprint("users", __name__)

ONE_YEAR = 365 * 24 * 3600


@bp.get("/user/<username>")
async def profile(username: str) -> ResponseReturnValue:
    session = get_session()
    user = await user_or_404(username)
    page = await queries.user_posts(session, user.id, cursor_arg())
    context = await feed_context(page)
    if is_htmx():  # the next page of posts
        return await render_template("partials/feed_items.html", **context)
    relations = await queries.relations(session, user.id, g.user.id if g.user else None)
    return await render_template("pages/profile.html", user=user, **relations._asdict(), **context)


async def _people(username: str, which: str) -> ResponseReturnValue:
    session = get_session()
    user = await user_or_404(username)
    lister = queries.followers if which == "followers" else queries.following
    viewer = g.user.id if g.user else None
    page = await lister(session, user.id, viewer=viewer, cursor=cursor_arg())
    return await render(
        "pages/people.html", "partials/people_items.html", user=user, which=which, page=page
    )


@bp.get("/user/<username>/followers")
async def followers(username: str) -> ResponseReturnValue:
    return await _people(username, "followers")


@bp.get("/user/<username>/following")
async def following(username: str) -> ResponseReturnValue:
    return await _people(username, "following")


async def _toggle_follow(username: str, *, follow: bool) -> ResponseReturnValue:
    me = current_user()
    session = get_session()
    user = await user_or_404(username)
    if user.id == me.id:
        abort(400, "You cannot follow yourself!")
    if follow:
        await queries.follow(session, me.id, user.id)
    else:
        await queries.unfollow(session, me.id, user.id)
    await session.commit()
    form = await request.form
    next_url = safe_next(form.get("next"), url_for("users.profile", username=user.username))
    if is_htmx():
        count = await queries.follower_count(session, user.id) if form.get("from") else None
        return await render_template(
            "partials/follow_button.html",
            person=user,
            i_follow=follow,
            next_url=next_url,
            from_profile=bool(form.get("from")),
            followers_oob=count,
        )
    message = (
        f"You are following {user.username}!"
        if follow
        else f"You are not following {user.username}."
    )
    await flash(message, "success")
    return redirect(next_url)


@bp.post("/user/<username>/follow")
@limited(("RATE_LIMIT_FOLLOW", account))
@login_required
async def follow(username: str) -> ResponseReturnValue:
    return await _toggle_follow(username, follow=True)


@bp.post("/user/<username>/unfollow")
@limited(("RATE_LIMIT_FOLLOW", account))
@login_required
async def unfollow(username: str) -> ResponseReturnValue:
    return await _toggle_follow(username, follow=False)


@bp.get("/settings/profile")
@login_required
async def settings() -> ResponseReturnValue:
    me = current_user()
    form = {"about_me": me.about_me, "email": me.email}
    return await render_template("pages/settings.html", form=form, errors={})


@bp.post("/settings/profile")
@login_required
async def save_settings() -> ResponseReturnValue:
    me = current_user()
    raw = await request.form
    form = {"about_me": clean(raw.get("about_me", "")), "email": raw.get("email", "").strip()}
    errors = {
        field: message
        for field, message in (
            ("about_me", about_error(form["about_me"])),
            ("email", email_error(form["email"])),
        )
        if message
    }
    session = get_session()
    if "email" not in errors and await queries.email_taken(
        session, form["email"], except_user_id=me.id
    ):
        errors["email"] = "That email address is already registered."
    if errors:
        return await render_template("pages/settings.html", form=form, errors=errors), 422
    try:
        await queries.update_profile(session, me, about_me=form["about_me"], email=form["email"])
        await session.commit()
    except IntegrityError:
        await rollback()
        errors["email"] = "That email address is already registered."
        return await render_template("pages/settings.html", form=form, errors=errors), 422
    await flash("Your profile is saved.", "success")
    return redirect(url_for("users.profile", username=me.username))


@bp.get("/avatars/<id:user_id>.svg")
async def avatar(user_id: int) -> ResponseReturnValue:
    """A user's identicon: derived from the id alone, so it never changes and caches forever."""
    response = Response(identicon_svg(f"warble:{user_id}"), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response


@bp.get("/settings/password")
@login_required
async def password_form() -> ResponseReturnValue:
    return await render_template("pages/password.html", errors={})


@bp.post("/settings/password")
@limited(("RATE_LIMIT_AUTH", client_address))
@login_required
async def change_password() -> ResponseReturnValue:
    """A new password; every other session of the account ends, this one continues."""
    me = current_user()
    form = await request.form
    errors: dict[str, str] = {}
    if not await verify_password(me.password_hash, form.get("current_password", "")):
        errors["current_password"] = "That is not your current password."  # noqa: S105
    if message := password_error(form.get("new_password", "")):
        errors["new_password"] = message
    if errors:
        return await render_template("pages/password.html", errors=errors), 422
    session = get_session()
    await queries.change_password(session, me.id, await hash_password(form["new_password"]))
    await session.commit()
    await session.refresh(me)
    auth.start_session(me, remember=bool(quart_session.get("remember")))
    rotate_csrf_token()
    await flash("Password changed. Your other sessions have been logged out.", "success")
    return redirect(url_for("users.profile", username=me.username))
