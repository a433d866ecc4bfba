"""Who calls the client API: the Bearer token, its user and scopes, and the API's rate limit.

The API never reads the session cookie (sessions.py skips API requests), so a page on another
site cannot act through a logged-in browser: CSRF does not apply (web.py), and tokens are the
only credential. A token's last use is written at most every TOUCH_EVERY.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil

from quart import current_app, g, request
from werkzeug.exceptions import Forbidden, TooManyRequests, Unauthorized

from app.api import scopes
from app.clock import utcnow
from app.db import read_session, write_session
from app.limits import Step, parse
from app.models import OAuthToken, User
from app.queries import oauth

TOUCH_EVERY = timedelta(minutes=5)
TOKEN_MAX = 100  # Warble's are 43 characters


def digest(secret: str) -> str:
    """What the tables keep of a client secret, code or token."""
    return hashlib.sha256(secret.encode(errors="surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Caller:
    token: OAuthToken
    user: User | None  # None: the app's own token (client_credentials)
    scopes: frozenset[str]


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def load_caller() -> Caller | None:
    """The request's token (cached on g); None without one; 401 for one that is not valid
    (unknown, revoked) or whose user may not use Warble (suspended, waiting for approval)."""
    if "api_caller" in g:
        caller: Caller | None = g.api_caller
        return caller
    g.api_caller = None
    raw = bearer()
    if raw is None:
        if request.headers.get("Authorization"):
            raise Unauthorized("The Authorization header must be: Bearer <token>")
        return None
    found = None
    if len(raw) <= TOKEN_MAX:
        found = await oauth.token_by_hash(read_session(), digest(raw))
    if found is None:
        raise Unauthorized("The access token is invalid")
    token, user = found
    if token.user_id is not None and (user is None or not _may_log_in(user)):
        raise Unauthorized("Your login is currently disabled")
    await _touch(token)
    g.api_caller = Caller(token, user, frozenset(token.scopes.split()))
    return g.api_caller  # type: ignore[no-any-return]


def _may_log_in(user: User) -> bool:
    return user.suspended_at is None and user.approved


async def _touch(token: OAuthToken) -> None:
    """Writes: the token's last use, at most once every TOUCH_EVERY, in its own transaction."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    session = await write_session()
    await oauth.touch_token(session, token.id, now)
    await session.commit()


async def user_with(scope: str) -> User:
    """The token's user, when the token grants `scope`: else 401 (no user token) or 403."""
    caller = await load_caller()
    if caller is None or caller.user is None:
        raise Unauthorized("This method requires an authenticated user")
    _check(caller, scope)
    return caller.user


async def viewer_with(scope: str) -> User | None:
    """A public method: the token's user if there is one (and it grants `scope`), else None."""
    caller = await load_caller()
    if caller is None:
        return None
    _check(caller, scope)
    return caller.user


def _check(caller: Caller, scope: str) -> None:
    if not scopes.covers(caller.scopes, scope):
        raise Forbidden("This action is outside the authorized scopes")


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset: datetime


async def rate_limit() -> None:
    """RATE_LIMIT_API per token and per address (GCRA, in the store of app/limits.py): 429
    when either is spent. The X-RateLimit-* headers go out together (after_request), since
    Mastodon.py breaks on a partial set."""
    config = current_app.config
    if not config["RATE_LIMITS"]:
        return
    count, period = parse(config["RATE_LIMIT_API"])
    inverse = period.total_seconds() / count
    raw = bearer()
    keys = [f"warble:api:addr:{request.remote_addr or 'unknown'}"]
    if raw is not None and len(raw) <= TOKEN_MAX:
        keys.append(f"warble:api:token:{digest(raw)[:32]}")
    steps = [Step(key, inverse, period.total_seconds() - inverse) for key in keys]
    store = current_app.extensions["warble_limits_store"]
    now = datetime.now(UTC)
    wait = await store.check_and_record(steps, now)
    tats = [await store.get(key, now) for key in keys]
    ahead = max((tat - now).total_seconds() for tat in tats)
    remaining = max(0, min(count, int((period.total_seconds() - ahead) // inverse)))
    g.api_budget = Budget(count, remaining, now + timedelta(seconds=max(ahead, 0)))
    if wait > 0:
        raise TooManyRequests("Too many requests", retry_after=ceil(wait))
