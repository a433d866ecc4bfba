"""Editing a post in place, and the history of its earlier versions."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, abort, flash, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app.blueprints.feeds import mentions
from app.blueprints.posts import own_post, post_or_404
from app.db import read_session, write_session
from app.limits import account, limited
from app.models import POST_MAX
from app.queries import posts
from app.queries.posts import FeedItem
from app.sessions import signed_in_user
from app.text import body_error, clean
from app.web import announce, cursor_arg, form_again, is_htmx, render, render_template

bp = Blueprint("edits", __name__)


async def _edit_form(
    item: FeedItem, form: dict[str, Any], standalone: bool, status: int = 200
) -> ResponseReturnValue:
    """The edit form: in the post's place (htmx), or a page of its own (no JavaScript)."""
    context = {"item": item, "form": form, "standalone": standalone}
    if not is_htmx():
        return await render_template("pages/post_edit.html", **context), status
    if status == 200:
        return await render_template("partials/post_edit.html", **context), status
    return await form_again("partials/post_edit.html", f"#post-{item.post.id}", **context)


@bp.get("/posts/<id:post_id>/edit")
@login_required
async def edit(post_id: int) -> ResponseReturnValue:
    """`?standalone=1`: the post is shown as on its own page (Cancel and Save keep that)."""
    item = await own_post(post_id, "edit")
    standalone = request.args.get("standalone") == "1"
    return await _edit_form(item, {"body": item.post.body}, standalone)


@bp.post("/posts/<id:post_id>/edit")
@limited(("RATE_LIMIT_WRITE", account))
@login_required
async def save(post_id: int) -> ResponseReturnValue:
    """The same rules as a new post; the earlier text is kept in the post's history."""
    me = signed_in_user()
    item = await own_post(post_id, "edit")
    raw = await request.form
    body, standalone = clean(raw.get("body", "")), raw.get("standalone") == "1"
    if error := body_error(body, POST_MAX, "post"):
        return await _edit_form(item, {"body": body, "error": error}, standalone, 422)
    session = await write_session()
    if not await posts.edit_post(session, post_id, me.id, body):
        abort(404, "Post not found.")  # deleted since we looked
    await session.commit()
    if not is_htmx():
        await flash("Your post is saved.", "success")
        return redirect(url_for("posts.show", post_id=post_id))
    edited = await posts.get_post(session, post_id, viewer=me.id)
    if edited is None:
        abort(404, "Post not found.")
    html = await render_template(
        "partials/post.html", item=edited, mentions=await mentions([body]), standalone=standalone
    )
    return html, 200, announce("Post saved")


@bp.get("/posts/<id:post_id>/history")
async def history(post_id: int) -> ResponseReturnValue:
    """The post as it is now, then every earlier version, newest first (htmx: the next page
    of earlier versions)."""
    item = await post_or_404(post_id)
    page = await posts.history(read_session(), post_id, cursor_arg())
    names = await mentions([item.post.body, *(version.body for version in page.items)])
    return await render(
        "pages/history.html", "partials/history_items.html", item=item, page=page, mentions=names
    )
