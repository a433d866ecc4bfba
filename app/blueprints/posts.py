"""Posts and their comments: write, read, delete."""

from __future__ import annotations

from quart import Blueprint, abort, flash, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required
from sqlalchemy.exc import IntegrityError

from app.blueprints.feeds import mentions
from app.blueprints.timeline import render_index
from app.clock import utcnow
from app.db import read_session, write_session
from app.limits import account, limited
from app.models import COMMENT_MAX, POST_MAX, Comment
from app.pagination import MAX_ID, Cursor
from app.queries import comments, posts
from app.queries.posts import FeedItem
from app.sessions import signed_in_user, viewer_id
from app.text import body_error, clean
from app.web import announce, form_again, is_htmx, optional_cursor_arg, render, render_template

bp = Blueprint("posts", __name__)


async def _form_body() -> str:
    return clean((await request.form).get("body", ""))


@bp.post("/posts")
@limited(("RATE_LIMIT_WRITE", account))
@login_required
async def create() -> ResponseReturnValue:
    me = signed_in_user()
    body = await _form_body()
    if error := body_error(body, POST_MAX, "post"):
        if is_htmx():
            composer = {"body": body, "error": error}
            return await form_again("partials/composer.html", "#composer", composer=composer)
        return await render_index(422, body=body, error=error)
    session = await write_session()
    post = await posts.create_post(session, me, body)
    await session.commit()
    if is_htmx():
        item = FeedItem(post, 0)
        names = await mentions([body])
        html = await render_template("partials/post.html", item=item, mentions=names, fresh=True)
        return html, 200, announce("Posted")
    await flash("Your post is live!", "success")
    return redirect(url_for("timeline.index"))


async def post_or_404(post_id: int) -> FeedItem:
    """The post as the viewer sees it (with their like), or a 404 (also when it is hidden
    from them: a block either way, a suspended author)."""
    item = await posts.get_post(read_session(), post_id, viewer=viewer_id())
    if item is None:
        abort(404, "Post not found.")
    return item


async def post_to_answer(post_id: int, verb: str) -> FeedItem:
    """The post the viewer is about to `verb` (like, comment on): a 404 when there is none (or
    its author is suspended), a 403 that says why across a block, either way."""
    found = await posts.find_post(read_session(), post_id, viewer=viewer_id())
    if found is None or found.suspended:
        abort(404, "Post not found.")
    if found.blocked:
        author = found.item.post.author.username
        abort(403, f"You cannot {verb} {author}’s posts: one of you has blocked the other.")
    return found.item


@bp.get("/posts/<id:post_id>")
async def show(post_id: int) -> ResponseReturnValue:
    return await _post_page(post_id, optional_cursor_arg("after"), optional_cursor_arg("until"))


async def _post_page(
    post_id: int,
    cursor: Cursor | None,
    until: Cursor | None,
    status: int = 200,
    comment_form: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """The post with a page of its comments (for htmx, only the comments: the next page).

    Pages after the first stop at `until`, the time the post's page was shown: a comment
    written since then (by this reader, through htmx, or anyone) is already at the end of
    the list, after the "More comments" gap, and must not come again when the gap fills.
    """
    item = await post_or_404(post_id)
    until = until or Cursor(utcnow(), MAX_ID)
    page = await comments.comments_for(
        read_session(), post_id, cursor, until=until, viewer=viewer_id()
    )
    names = await mentions([item.post.body, *(c.body for c in page.items)])
    return await render(
        "pages/post.html",
        "partials/comments_page.html",
        status,
        item=item,
        comments=page,
        until=until.encode(),
        mentions=names,
        comment_form=comment_form or {},
    )


async def own_post(post_id: int, verb: str) -> FeedItem:
    """The post, when it is the viewer's own: only its author may `verb` it."""
    item = await post_or_404(post_id)
    if item.post.author_id != signed_in_user().id:
        abort(403, f"You can only {verb} your own posts.")
    return item


@bp.get("/posts/<id:post_id>/item")
async def item(post_id: int) -> ResponseReturnValue:
    """The post alone, as a fragment (an edit's Cancel swaps it back in); without htmx, the
    post's page. `?standalone=1`: as its own page shows it."""
    if not is_htmx():
        return redirect(url_for("posts.show", post_id=post_id))
    found = await post_or_404(post_id)
    standalone = request.args.get("standalone") == "1"
    names = await mentions([found.post.body])
    return await render_template(
        "partials/post.html", item=found, mentions=names, standalone=standalone
    )


@bp.get("/posts/<id:post_id>/delete")
@login_required
async def confirm_delete(post_id: int) -> ResponseReturnValue:
    item = await own_post(post_id, "delete")
    return await render_template(
        "pages/confirm.html",
        title="Delete this post?",
        quote=item.post.body,
        action=url_for("posts.delete", post_id=post_id),
        cancel=url_for("posts.show", post_id=post_id),
    )


@bp.post("/posts/<id:post_id>/delete")
@login_required
async def delete(post_id: int) -> ResponseReturnValue:
    await own_post(post_id, "delete")
    session = await write_session()
    await posts.delete_post(session, post_id)
    await session.commit()
    if is_htmx():
        return "", 200, announce("Post deleted")  # the post's element is swapped for nothing
    await flash("Post deleted.", "info")
    return redirect(url_for("timeline.index"))


@bp.post("/posts/<id:post_id>/comments")
@limited(("RATE_LIMIT_WRITE", account))
@login_required
async def add_comment(post_id: int) -> ResponseReturnValue:
    me = signed_in_user()
    post = (await post_to_answer(post_id, "comment on")).post
    body = await _form_body()
    if error := body_error(body, COMMENT_MAX, "comment"):
        return await _comment_form_again(post_id, {"body": body, "error": error})
    session = await write_session()
    try:
        comment = await comments.add_comment(session, post_id, post.author_id, me, body)
        await session.commit()
    except IntegrityError:  # the post was deleted since we looked: store nothing
        abort(404, "Post not found.")
    if is_htmx():
        html = await render_template(
            "partials/comment_added.html",
            comment=comment,
            post_id=post_id,
            count=await comments.comment_count(session, post_id),
            mentions=await mentions([body]),
            post_author_id=None,
        )
        return html, 200, announce("Comment added")
    await flash("Comment added.", "success")
    return redirect(url_for("posts.show", post_id=post_id, _anchor=f"comment-{comment.id}"))


async def _comment_form_again(post_id: int, form: dict[str, str]) -> ResponseReturnValue:
    """A rejected comment: the form with its message, in place (htmx) or on the post's page."""
    if is_htmx():
        return await form_again(
            "partials/comment_form.html", "#comment-form", post_id=post_id, comment_form=form
        )
    return await _post_page(post_id, None, None, 422, form)


async def _deletable_comment(comment_id: int) -> Comment:
    """The comment, when the viewer may delete it: its author or the post's author."""
    comment = await comments.get_comment(read_session(), comment_id)
    if comment is None:
        abort(404, "Comment not found.")
    me = signed_in_user()
    if comment.author_id != me.id:
        post = await post_or_404(comment.post_id)
        if post.post.author_id != me.id:
            abort(403, "You can only delete your own comments, or comments on your posts.")
    return comment


@bp.get("/comments/<id:comment_id>/delete")
@login_required
async def confirm_delete_comment(comment_id: int) -> ResponseReturnValue:
    comment = await _deletable_comment(comment_id)
    return await render_template(
        "pages/confirm.html",
        title="Delete this comment?",
        quote=comment.body,
        action=url_for("posts.delete_comment", comment_id=comment_id),
        cancel=url_for("posts.show", post_id=comment.post_id),
    )


@bp.post("/comments/<id:comment_id>/delete")
@login_required
async def delete_comment(comment_id: int) -> ResponseReturnValue:
    post_id = (await _deletable_comment(comment_id)).post_id
    session = await write_session()
    await comments.delete_comment(session, comment_id, post_id, signed_in_user().id)
    await session.commit()
    if is_htmx():
        count = await comments.comment_count(session, post_id)
        html = await render_template(
            "partials/comment_count.html", post_id=post_id, count=count, oob=True
        )
        return html, 200, announce("Comment deleted")
    await flash("Comment deleted.", "info")
    return redirect(url_for("posts.show", post_id=post_id, _anchor="comments"))
