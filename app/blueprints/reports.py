"""Reports: anyone logged in asks the moderators to look at a post, a comment or an account."""

from __future__ import annotations

from typing import NamedTuple

from quart import Blueprint, abort, flash, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import login_required

from app.blueprints.posts import post_or_404
from app.blueprints.users import user_or_404
from app.clock import utcnow
from app.db import read_session, write_session
from app.limits import account, limited
from app.models import REPORT_COMMENT_MAX, REPORT_REASONS, User
from app.queries import moderation
from app.sessions import signed_in_user
from app.text import clean
from app.web import announce, form_again, is_htmx, render, render_template

bp = Blueprint("reports", __name__)

REASONS = {
    "spam": "Spam: advertising, repeated or automated posting",
    "abuse": "Abuse: harassment, threats or hate",
    "illegal": "Illegal content",
    "other": "Something else (say what below)",
}
assert tuple(REASONS) == REPORT_REASONS


class Subject(NamedTuple):
    """What is reported: its kind, its account, the post or comment, and where it lives."""

    kind: str  # post, comment, account
    account: User
    quote: str
    action: str  # the report form's URL
    back: str  # the page of what was reported
    post_id: int | None = None
    comment_id: int | None = None


def _not_yourself(subject: Subject) -> Subject:
    if subject.account.id == signed_in_user().id:
        abort(400, "You cannot report yourself.")
    return subject


async def _post(post_id: int) -> Subject:
    post = (await post_or_404(post_id)).post
    url = url_for("posts.show", post_id=post_id)
    action = url_for("reports.report_post", post_id=post_id)
    return _not_yourself(Subject("post", post.author, post.body, action, url, post_id=post_id))


async def _comment(comment_id: int) -> Subject:
    comment = await moderation.comment_with_author(read_session(), comment_id)
    if comment is None or comment.author is None:
        abort(404, "Comment not found.")
    url = url_for("posts.show", post_id=comment.post_id, _anchor=f"comment-{comment_id}")
    action = url_for("reports.report_comment", comment_id=comment_id)
    subject = Subject("comment", comment.author, comment.body, action, url, comment_id=comment_id)
    return _not_yourself(subject)


async def _account(username: str) -> Subject:
    user = await user_or_404(username)
    url = url_for("users.profile", username=user.username)
    action = url_for("reports.report_account", username=user.username)
    return _not_yourself(Subject("account", user, user.about_me, action, url))


async def _form(subject: Subject) -> ResponseReturnValue:
    return await render(
        "pages/report.html",
        "partials/report_form.html",
        subject=subject,
        form={},
        errors={},
        reasons=REASONS,
    )


def _errors(form: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if form["reason"] not in REPORT_REASONS:
        errors["reason"] = "Choose a reason."
    elif form["reason"] == "other" and not form["comment"]:
        errors["comment"] = "Say what is wrong, so that the moderators know what to look for."
    if len(form["comment"]) > REPORT_COMMENT_MAX:
        errors["comment"] = (
            f"Keep it to {REPORT_COMMENT_MAX} characters (you have {len(form['comment'])})."
        )
    return errors


async def _report(subject: Subject) -> ResponseReturnValue:
    """Store the report (staff are notified); htmx: the form becomes a thank-you, a plain form
    goes back to what was reported."""
    raw = await request.form
    form = {"reason": raw.get("reason", ""), "comment": clean(raw.get("comment", ""))}
    if errors := _errors(form):
        context = {"subject": subject, "form": form, "errors": errors, "reasons": REASONS}
        if is_htmx():
            return await form_again("partials/report_form.html", "#report-form", **context)
        return await render_template("pages/report.html", **context), 422
    session = await write_session()
    ids = {"post_id": subject.post_id, "comment_id": subject.comment_id}
    await moderation.create_report(
        session,
        reporter_id=signed_in_user().id,
        account_id=subject.account.id,
        reason=form["reason"],
        comment=form["comment"],
        now=utcnow(),
        reported_text=subject.quote if subject.kind != "account" else None,
        **ids,
    )
    await session.commit()
    if is_htmx():
        html = await render_template("partials/report_received.html", subject=subject)
        return html, 200, announce("Report sent")
    await flash(
        "Thank you: your report was received, and the moderators will look at it.", "success"
    )
    return redirect(subject.back)


@bp.get("/posts/<id:post_id>/report")
@login_required
async def report_post_form(post_id: int) -> ResponseReturnValue:
    return await _form(await _post(post_id))


@bp.post("/posts/<id:post_id>/report")
@limited(("RATE_LIMIT_REPORT", account))
@login_required
async def report_post(post_id: int) -> ResponseReturnValue:
    return await _report(await _post(post_id))


@bp.get("/comments/<id:comment_id>/report")
@login_required
async def report_comment_form(comment_id: int) -> ResponseReturnValue:
    return await _form(await _comment(comment_id))


@bp.post("/comments/<id:comment_id>/report")
@limited(("RATE_LIMIT_REPORT", account))
@login_required
async def report_comment(comment_id: int) -> ResponseReturnValue:
    return await _report(await _comment(comment_id))


@bp.get("/user/<username>/report")
@login_required
async def report_account_form(username: str) -> ResponseReturnValue:
    return await _form(await _account(username))


@bp.post("/user/<username>/report")
@limited(("RATE_LIMIT_REPORT", account))
@login_required
async def report_account(username: str) -> ResponseReturnValue:
    return await _report(await _account(username))
