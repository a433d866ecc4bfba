"""Who is logged in: the cookie's identity, the user on `g`, starting and ending sessions.

A session cookie (Quart-Auth's signed `warble_auth`) names `user_id.epoch`. Raising a user's
session epoch (a password change) makes every cookie issued before it worthless.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from quart import Quart, abort, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import AuthUser, QuartAuth, Unauthorized, current_user, login_user, logout_user

from app.clock import utcnow
from app.db import read_session, write_session
from app.models import User
from app.queries import users
from app.web import is_htmx, rotate_csrf_token

LAST_SEEN_EVERY = timedelta(minutes=5)
# Answered without looking up who is logged in: no database work for files and avatars.
NO_USER_ENDPOINTS = {"static", "avatars.show", "healthz"}


def auth_id_for(user_id: int, epoch: int) -> str:
    """What a session cookie names: the user and the session epoch it was issued in."""
    return f"{user_id}.{epoch}"


def parse_auth_id(auth_id: str) -> tuple[int, int] | None:
    """(user id, epoch) from a cookie's identity, or None when it is malformed."""
    user_id, _, epoch = auth_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()) or len(user_id) > 10:
        return None
    return int(user_id), int(epoch)


async def _user_for(auth_id: str) -> User | None:
    """The user a cookie belongs to, or None if its session was ended (or it is malformed)."""
    parsed = parse_auth_id(auth_id)
    if parsed is None:
        return None
    user = await users.get_user(read_session(), parsed[0])
    if user is None or user.session_epoch != parsed[1]:
        return None
    return user


async def load_user_and_touch_last_seen() -> None:
    """Put the logged-in user (or None) on `g`.

    Writes: `last_seen_at`, at most once every five minutes per user — the one write a GET
    may make, in a transaction of its own.
    """
    g.user = None
    if request.endpoint in NO_USER_ENDPOINTS or current_user.auth_id is None:
        return
    user = await _user_for(current_user.auth_id)
    if user is None:  # deleted account or ended session
        logout_user()
        return
    g.user = user
    now = utcnow()
    if user.last_seen_at is None or now - user.last_seen_at > LAST_SEEN_EVERY:
        session = await write_session()
        await users.touch_last_seen(session, user.id, now)
        await session.commit()


def signed_in_user() -> User:
    """The logged-in user; views that call this are behind @login_required."""
    user: User | None = g.get("user")
    if user is None:
        abort(401)
    return user


def start_session(user: User, *, remember: bool) -> None:
    """A new signed cookie for this login, and a new CSRF token: nothing issued before the
    switch is worth anything after it."""
    login_user(AuthUser(auth_id_for(user.id, user.session_epoch)), remember=remember)
    session["remember"] = remember
    rotate_csrf_token()


def end_session() -> None:
    logout_user()
    session.pop("remember", None)
    rotate_csrf_token()


def _back_here() -> str:
    """Where to return after logging in: this page, or for a form post the page it came from."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


async def to_login(_error: Unauthorized) -> ResponseReturnValue:
    """@login_required's answer: the login page, which comes back here afterwards."""
    target = url_for("accounts.login", next=_back_here())
    if is_htmx():
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def init_app(app: Quart) -> None:
    QuartAuth(app)
    app.before_request(load_user_and_touch_last_seen)
    app.register_error_handler(Unauthorized, to_login)
