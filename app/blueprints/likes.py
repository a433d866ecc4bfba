"""Likes: the Like/Unlike button of every post, and who liked a post."""

from __future__ import annotations

from quart import Blueprint, abort, flash, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from sqlalchemy.exc import IntegrityError

from app.blueprints.posts import post_or_404, post_to_answer
from app.db import read_session, write_session
from app.limits import account, limited
from app.queries import likes
from app.sessions import signed_in_user, viewer_id
from app.web import announce, cursor_arg, is_htmx, render, render_template, safe_next

bp = Blueprint("likes", __name__)


async def _toggle(post_id: int, *, like: bool) -> ResponseReturnValue:
    """Like or unlike, idempotently; htmx gets the button and count back, a plain form is
    sent back where it came from (`next`)."""
    me = signed_in_user()
    post = (await post_to_answer(post_id, "like" if like else "unlike")).post
    session = await write_session()
    try:
        await (likes.like if like else likes.unlike)(session, me.id, post)
        await session.commit()
    except IntegrityError:  # the post was deleted since we looked: store nothing
        abort(404, "Post not found.")
    next_url = safe_next((await request.form).get("next"), url_for("posts.show", post_id=post_id))
    if is_htmx():
        state = await likes.like_state(session, post_id, me.id)
        html = await render_template(
            "partials/like_button.html", post_id=post_id, state=state, next_url=next_url
        )
        return html, 200, announce("Liked" if like else "Like removed")
    await flash("You like this post." if like else "You no longer like this post.", "success")
    return redirect(next_url)


@bp.post("/posts/<id:post_id>/like")
@limited(("RATE_LIMIT_LIKE", account))
@login_required
async def like(post_id: int) -> ResponseReturnValue:
    return await _toggle(post_id, like=True)


@bp.post("/posts/<id:post_id>/unlike")
@limited(("RATE_LIMIT_LIKE", account))
@login_required
async def unlike(post_id: int) -> ResponseReturnValue:
    return await _toggle(post_id, like=False)


@bp.get("/posts/<id:post_id>/likes")
async def likers(post_id: int) -> ResponseReturnValue:
    """Who liked the post, newest first, each with a Follow button; htmx: the next page."""
    item = await post_or_404(post_id)
    page = await likes.likers(read_session(), post_id, viewer=viewer_id(), cursor=cursor_arg())
    return await render("pages/likes.html", "partials/people_items.html", item=item, page=page)
