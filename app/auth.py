"""Sessions: Quart-Auth's cookie, the logged-in user on `g`, and the login-required redirect."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from quart import Quart, g, redirect, request, session, url_for
from quart_auth import AuthUser, QuartAuth, Unauthorized, current_user, login_user, logout_user

from app import queries
from app.db import get_session, utcnow
from app.web import is_htmx

if TYPE_CHECKING:
    from quart.typing import ResponseReturnValue

    from app.models import User

LAST_SEEN_EVERY = timedelta(minutes=5)
# Answered without looking up who is logged in: no database work for files and avatars.
NO_USER_ENDPOINTS = {"static", "users.avatar", "healthz"}


def init_app(app: Quart) -> None:
    QuartAuth(app)

    @app.before_request
    async def load_user() -> None:
        g.user = None
        if request.endpoint in NO_USER_ENDPOINTS or current_user.auth_id is None:
            return
        user = await queries.get_user_by_auth_id(get_session(), current_user.auth_id)
        if user is None:  # deleted account or stale cookie
            logout_user()
            return
        g.user = user
        now = utcnow()
        # Written at most once every five minutes, not on every request.
        if user.last_seen_at is None or now - user.last_seen_at > LAST_SEEN_EVERY:
            await queries.touch_last_seen(get_session(), user, now)
            await get_session().commit()

    @app.errorhandler(Unauthorized)
    async def to_login(_error: Unauthorized) -> ResponseReturnValue:
        target = url_for("auth.login", next=_back_here())
        if is_htmx():
            return "", 401, {"HX-Redirect": target}
        return redirect(target)


def _back_here() -> str:
    """Where to return after logging in: this page, or for a form post the page it came from."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


def start_session(user: User, *, remember: bool) -> None:
    """A new signed cookie for this login (never one the browser had before)."""
    login_user(AuthUser(queries.auth_id_for(user)), remember=remember)
    session["remember"] = remember


def end_session() -> None:
    logout_user()
    session.pop("remember", None)
