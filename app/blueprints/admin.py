"""/admin: open reports, accounts waiting for approval, an account's record, the moderation
log, and the actions. Moderators and admins only: to anyone else every URL here is a 404,
checked on the server before anything is read or written (app/moderation.py decides)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from quart import Blueprint, abort, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from app import moderation
from app.blueprints.users import user_or_404
from app.db import read_session, write_session
from app.models import ROLES, Report, User
from app.pagination import DIGITS, MAX_ID, decode
from app.queries import moderation as queries
from app.web import announce, cursor_arg, is_htmx, render, render_template, safe_next

bp = Blueprint("admin", __name__)

SLOT = re.compile(r"(report|waiting)-[0-9]{1,10}")  # the element an htmx answer replaces


def staff() -> moderation.Actor:
    """The moderator or admin asking; anyone else is told there is nothing here."""
    user: User | None = g.get("user")
    if not moderation.is_staff(user):
        abort(404)
    assert user is not None
    return moderation.actor_of(user)


@bp.get("/admin")
async def index() -> ResponseReturnValue:
    """Open reports oldest first, each with its context; accounts waiting for approval."""
    me = staff()
    session = read_session()
    page = await queries.open_reports(
        session, decode(request.args.get("after"), queries.OLDEST_FIRST)
    )
    contexts = await queries.contexts_of(session, page.items)
    context = {"page": page, "contexts": contexts, "me": me, "refusal": moderation.refusal}
    if is_htmx():  # the next page of reports
        return await render_template("partials/admin_reports.html", **context)
    waiting = await queries.waiting_accounts(session)
    return await render_template("pages/admin.html", waiting=waiting, **context)


@bp.get("/admin/log")
async def log() -> ResponseReturnValue:
    staff()
    page = await queries.log_page(read_session(), cursor_arg())
    return await render(
        "pages/admin_log.html",
        "partials/admin_log_items.html",
        page=page,
        action_names=moderation.ACTION_NAMES,
    )


@bp.get("/admin/accounts/<username>")
async def account(username: str) -> ResponseReturnValue:
    me = staff()
    user = await user_or_404(username)
    session = read_session()
    return await render_template(
        "pages/admin_account.html",
        user=user,
        me=me,
        roles=ROLES,
        reports=await queries.reports_about(session, user.id),
        actions=await queries.actions_on(session, user.id),
        recent=await queries.recent_posts(session, user.id),
        refusal=moderation.refusal,
        action_names=moderation.ACTION_NAMES,
    )


async def _answer(message: str) -> ResponseReturnValue:
    """htmx: the report or waiting account acted on becomes a line saying what was done; a
    plain form goes back where it came from."""
    form = await request.form
    if is_htmx() and SLOT.fullmatch(slot := form.get("slot", "")):
        html = await render_template("partials/admin_done.html", slot=slot, message=message)
        return html, 200, announce(message)
    await flash(message, "success")
    return redirect(safe_next(form.get("next"), url_for("admin.index")))


async def _act(action: Callable[[], Awaitable[object]], message: str) -> ResponseReturnValue:
    """Run a moderation action; a refusal is a 403, a thing already done a 409."""
    try:
        await action()
    except moderation.AlreadyDone as done:
        abort(409, str(done))
    except moderation.Refused as refused:
        abort(403, str(refused))
    return await _answer(message)


async def _reason() -> str:
    return moderation.clean_reason((await request.form).get("reason", ""))


async def _report_or_404(report_id: int) -> Report:
    report = await queries.get_report(read_session(), report_id)
    if report is None:
        abort(404, "Report not found.")
    return report


async def _report_of(user: User) -> int | None:
    """The report an account action answers (the form's `report`), if it is about them."""
    raw = (await request.form).get("report", "")
    if not DIGITS.fullmatch(raw) or len(raw) > 10 or int(raw) > MAX_ID:
        return None
    report = await queries.get_report(read_session(), int(raw))
    return report.id if report is not None and report.account_id == user.id else None


@bp.post("/admin/reports/<id:report_id>/dismiss")
async def dismiss(report_id: int) -> ResponseReturnValue:
    me = staff()
    report, reason = await _report_or_404(report_id), await _reason()
    session = await write_session()
    return await _act(lambda: moderation.dismiss(session, me, report, reason), "Report dismissed")


@bp.post("/admin/reports/<id:report_id>/delete")
async def delete_reported(report_id: int) -> ResponseReturnValue:
    me = staff()
    report, reason = await _report_or_404(report_id), await _reason()
    what = "comment" if report.comment_id is not None else "post"
    session = await write_session()
    return await _act(
        lambda: moderation.delete_reported(session, me, report, reason), f"The {what} is deleted"
    )


async def _on_account(username: str, verb: str) -> ResponseReturnValue:
    me = staff()
    user = await user_or_404(username)
    reason, report_id = await _reason(), await _report_of(user)
    form = await request.form
    session = await write_session()
    actions: dict[str, Callable[[], Awaitable[object]]] = {
        "suspend": lambda: moderation.suspend(session, me, user, reason, report_id),
        "unsuspend": lambda: moderation.unsuspend(session, me, user, reason),
        "delete": lambda: moderation.delete_account(session, me, user, reason, report_id),
        "approve": lambda: moderation.approve(session, me, user, reason),
        "reject": lambda: moderation.reject(session, me, user, reason),
        "role": lambda: moderation.set_role(session, me, user, form.get("role", ""), reason),
    }
    messages = {
        "suspend": f"{user.username} is suspended",
        "unsuspend": f"{user.username} is no longer suspended",
        "delete": f"{user.username}'s account is deleted",
        "approve": f"{user.username} is approved",
        "reject": f"{user.username} is rejected",
        "role": f"{user.username} is now {form.get('role', '')}",
    }
    return await _act(actions[verb], messages[verb])


@bp.post("/admin/accounts/<username>/suspend")
async def suspend(username: str) -> ResponseReturnValue:
    return await _on_account(username, "suspend")


@bp.post("/admin/accounts/<username>/unsuspend")
async def unsuspend(username: str) -> ResponseReturnValue:
    return await _on_account(username, "unsuspend")


@bp.post("/admin/accounts/<username>/delete")
async def delete_account(username: str) -> ResponseReturnValue:
    return await _on_account(username, "delete")


@bp.post("/admin/accounts/<username>/approve")
async def approve(username: str) -> ResponseReturnValue:
    return await _on_account(username, "approve")


@bp.post("/admin/accounts/<username>/reject")
async def reject(username: str) -> ResponseReturnValue:
    return await _on_account(username, "reject")


@bp.post("/admin/accounts/<username>/role")
async def role(username: str) -> ResponseReturnValue:
    return await _on_account(username, "role")
