"""Who is logged in: the session cookie, the user on `g`, starting and ending sessions.

A login is a `user_sessions` row. The session cookie (Quart-Auth's signed `warble_auth`) holds
a random token; the row holds its SHA-256, so a copy of the database opens no session. Ending
a session deletes its row: its cookie is worthless at once, on every worker and host.
Without "remember me" a session ends after SESSION_IDLE_HOURS without use; with it,
REMEMBER_DAYS after the login.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from quart import Quart, abort, current_app, g, redirect, request, url_for
from quart.typing import ResponseReturnValue
from quart_auth import AuthUser, QuartAuth, Unauthorized, current_user, login_user, logout_user
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.db import read_session, write_session
from app.models import USER_AGENT_MAX, User, UserSession
from app.queries import user_sessions, users
from app.web import is_api_request, is_htmx, rotate_csrf_token

# A session's use (and the user's last_seen_at) is written at most this often: an idle
# session ends between SESSION_IDLE_HOURS and that plus this after its last request.
TOUCH_EVERY = timedelta(minutes=5)
TOKEN_MAX = 64  # the cookie's token is 43 characters; anything longer was not made here
# Answered without looking up who is logged in: no database work for files and avatars, and
# feeds are the same for everyone.
NO_USER_ENDPOINTS = {"static", "avatars.show", "healthz", "atom.user_feed", "atom.tag_feed"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(remember: bool, now: datetime) -> datetime:
    config = current_app.config
    if remember:
        return now + timedelta(days=config["REMEMBER_DAYS"])
    return now + timedelta(hours=config["SESSION_IDLE_HOURS"])


async def load_user_and_touch_session() -> None:
    """Put the logged-in user (or None) on `g`, their session on `g.login`, and their unread
    notification count on `g.unread`.

    Writes: the session's last use (extending an idle session) and the user's
    last_seen_at, at most once every TOUCH_EVERY, in a transaction of their own.
    """
    g.user = g.login = None
    g.unread = 0
    token = current_user.auth_id
    if request.endpoint in NO_USER_ENDPOINTS or token is None or is_api_request():
        return  # the API knows its caller by the Bearer token alone (app/api/auth.py)
    now = utcnow()
    found = None
    if len(token) <= TOKEN_MAX:
        found = await user_sessions.active_session(read_session(), token_hash(token), now)
    if found is None:  # ended, expired, or never ours
        logout_user()
        return
    login, g.unread = found
    g.user, g.login = login.user, login
    seen = login.user.last_seen_at
    if now - login.last_used_at > TOUCH_EVERY or seen is None or now - seen > TOUCH_EVERY:
        session = await write_session()
        expires_at = None if login.remember else _expiry(False, now)
        await user_sessions.touch(session, login.id, now, expires_at)
        await users.touch_last_seen(session, login.user_id, now)
        await session.commit()


def signed_in_user() -> User:
    """The logged-in user; views that call this are behind @login_required."""
    user: User | None = g.get("user")
    if user is None:
        abort(401)
    return user


def viewer_id() -> int | None:
    """Who is looking at a page: the logged-in user's id, or None."""
    user: User | None = g.get("user")
    return user.id if user is not None else None


def current_login() -> UserSession:
    login: UserSession | None = g.get("login")
    if login is None:
        abort(401)
    return login


async def issue_token(
    session: AsyncSession, user_id: int, *, remember: bool, user_agent: str, expires_at: datetime
) -> str:
    """A session row for the user; returns the token its cookie names (only its hash is kept).
    The caller commits."""
    token = secrets.token_urlsafe(32)
    await user_sessions.create_session(
        session,
        user_id=user_id,
        token_hash=token_hash(token),
        remember=remember,
        user_agent=user_agent[:USER_AGENT_MAX],
        now=utcnow(),
        expires_at=expires_at,
    )
    return token


async def start_session(session: AsyncSession, user: User, *, remember: bool) -> None:
    """A new session for this login, and a new CSRF token: nothing issued before the switch
    is worth anything after it. The caller commits."""
    now = utcnow()
    await user_sessions.prune_expired(session, user.id, now)
    token = await issue_token(
        session,
        user.id,
        remember=remember,
        user_agent=request.headers.get("User-Agent", ""),
        expires_at=_expiry(remember, now),
    )
    login_user(AuthUser(token), remember=remember)
    rotate_csrf_token()


async def end_session(session: AsyncSession) -> None:
    """Log out here: this session's row goes, and so do its cookie and CSRF token."""
    if (login := g.get("login")) is not None:
        await user_sessions.end_session(session, login.user_id, login.id)
    logout_user()
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


BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
TOOL = re.compile(r"^([A-Za-z][\w.-]*)/")


def describe_user_agent(agent: str) -> str:
    """ "Firefox on Linux", "Safari on iOS", "curl": enough to recognise a device in a list."""
    browser = next((name for mark, name in BROWSERS if mark in agent), None)
    if browser is None and "Safari/" in agent:
        browser = "Safari"
    system = next((name for mark, name in SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"A browser on {system}"
    match = TOOL.match(agent)
    return match.group(1) if match and agent.split("/")[0] != "Mozilla" else "Unknown device"


def init_app(app: Quart) -> None:
    QuartAuth(app)
    app.before_request(load_user_and_touch_session)
    app.register_error_handler(Unauthorized, to_login)
    app.jinja_env.filters["device"] = describe_user_agent
