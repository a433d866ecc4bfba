"""Profiles, follower lists, following, and profile settings."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app import accounts, moderation
from app.blueprints.feeds import feed_context, feed_page
from app.db import read_session, write_session
from app.limits import account, client_address, limited
from app.models import User
from app.pagination import DIGITS, Page, decode_rank
from app.queries import follows, people, posts, users, visibility
from app.queries.posts import FeedItem
from app.sessions import signed_in_user, viewer_id
from app.text import clean
from app.web import announce, cursor_arg, is_htmx, render, render_template, safe_next

bp = Blueprint("users", __name__)


async def user_or_404(username: str) -> User:
    """The account named `username`. One still waiting for approval is not public yet: only
    moderators and admins (who approve it from /admin) find it."""
    user = None
    if accounts.username_error(username) is None:  # a malformed name cannot exist: no lookup
        user = await users.get_user_by_username(read_session(), username)
    if user is None or not (user.approved or moderation.is_staff(g.user)):
        abort(404, f"User {username} not found.")
    return user


async def profile_posts(user: User, viewer: int | None) -> Page[FeedItem]:
    """A page of the user's posts, as the viewer may see them (none across a block, none of
    a suspended account: the statement itself leaves them out, app/queries/visibility.py)."""
    return await feed_page(
        lambda cursor: posts.user_posts(read_session(), user.id, cursor, viewer=viewer)
    )


@bp.get("/user/<username>")
async def profile(username: str) -> ResponseReturnValue:
    user = await user_or_404(username)
    viewer = viewer_id()
    if is_htmx():  # the next page of posts
        context = await feed_context(await profile_posts(user, viewer))
        return await render_template("partials/feed_items.html", **context)
    relations = await follows.relations(read_session(), user.id, viewer)
    hidden = relations.i_block or relations.blocks_me or user.suspended_at is not None
    page = Page[FeedItem]([], None) if hidden else await profile_posts(user, viewer)
    context = await feed_context(page)
    return await render_template("pages/profile.html", user=user, **relations._asdict(), **context)


async def _people(username: str, which: str) -> ResponseReturnValue:
    user = await user_or_404(username)
    lister = follows.followers if which == "followers" else follows.following
    viewer = g.user.id if g.user else None
    page = await lister(read_session(), user.id, viewer=viewer, cursor=cursor_arg())
    return await render(
        "pages/people.html", "partials/people_items.html", user=user, which=which, page=page
    )


DIRECTORY_ORDERS = ("newest", "followed")


@bp.get("/people")
async def directory() -> ResponseReturnValue:
    """Everyone on this Warble: newest accounts first, or the most followed."""
    order = request.args.get("order", "newest")
    if order not in DIRECTORY_ORDERS:
        abort(400, "Sort people by newest or by most followed.")
    viewer = g.user.id if g.user else None
    page: Any
    if order == "followed":
        page = await people.most_followed(
            read_session(), viewer, decode_rank(request.args.get("before"))
        )
    else:
        page = await people.newest(read_session(), viewer, cursor_arg())
    filters = {"order": order} if order != "newest" else {}
    return await render(
        "pages/directory.html",
        "partials/people_items.html",
        order=order,
        page=page,
        filters=filters,
    )


@bp.get("/user/<username>/followers")
async def followers(username: str) -> ResponseReturnValue:
    return await _people(username, "followers")


@bp.get("/user/<username>/following")
async def following(username: str) -> ResponseReturnValue:
    return await _people(username, "following")


async def _toggle_follow(username: str, *, follow: bool) -> ResponseReturnValue:
    me = signed_in_user()
    user = await user_or_404(username)
    if user.id == me.id:
        abort(400, "You cannot follow yourself!")
    if follow:
        standing = await visibility.standing(read_session(), me.id, user.id)
        if standing.i_block:
            abort(403, f"You have blocked {user.username}: unblock them to follow them.")
        if standing.blocks_me:
            abort(403, f"{user.username} has blocked you: you cannot follow them.")
    session = await write_session()
    await (follows.follow if follow else follows.unfollow)(session, me.id, user.id)
    await session.commit()
    form = await request.form
    next_url = safe_next(form.get("next"), url_for("users.profile", username=user.username))
    if is_htmx():
        from_profile = bool(form.get("from"))
        slot = form.get("slot", "")
        count = await follows.follower_count(session, user.id) if from_profile else None
        return (
            await render_template(
                "partials/follow_button.html",
                person=user,
                i_follow=follow,
                next_url=next_url,
                from_profile=from_profile,
                followers_oob=count,
                slot=int(slot) if DIGITS.fullmatch(slot) and len(slot) <= 10 else None,
            ),
            200,
            announce(f"Following {user.username}" if follow else f"Unfollowed {user.username}"),
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
    me = signed_in_user()
    form = {"about_me": me.about_me, "email": me.email}
    return await render_template("pages/settings.html", form=form, errors={})


@bp.post("/settings/profile")
@limited(("RATE_LIMIT_AUTH", client_address))
@login_required
async def save_settings() -> ResponseReturnValue:
    me = signed_in_user()
    raw = await request.form
    form = {"about_me": clean(raw.get("about_me", "")), "email": raw.get("email", "").strip()}
    try:
        await accounts.save_profile(await write_session(), me, form["about_me"], form["email"])
    except accounts.Rejected as rejected:
        return await render_template("pages/settings.html", form=form, errors=rejected.errors), 422
    await flash("Your profile is saved.", "success")
    return redirect(url_for("users.profile", username=me.username))
