"""Abuse limits: how often one address or one account may log in, register, post and follow.

Counters live in each worker process's memory (quart-rate-limiter's MemoryStore): with W
hypercorn workers a client spread over all of them can reach up to W times a limit. That keeps
limits free of database writes; docs/security.md explains the trade-off.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from quart import Quart, request
from quart_auth import current_user
from quart_rate_limiter import QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, RateLimit, RateLimiter

from app.config import RATE_LIMIT_DEFAULTS

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*")
# Where @limited leaves a view's (setting, key function) pairs for init_app to turn into limits.
SETTINGS_ATTRIBUTE = "_warble_limit_settings"

KeyFunction = Callable[[], Awaitable[str]]
View = TypeVar("View", bound=Callable[..., Any])


def parse(text: str) -> tuple[int, timedelta]:
    """'10/minute', '30 / 5 minutes', '1000/day' → (count, period)."""
    match = LIMIT_RE.fullmatch(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"a rate limit looks like '10/minute', not {text!r}")
    count, multiple, unit = match.groups()
    return int(count), timedelta(seconds=int(multiple or 1) * UNITS[unit])


async def client_address() -> str:
    """The connecting address. Behind a proxy, PROXY_HOPS makes hypercorn's ProxyFix set it
    from X-Forwarded-For; a client's own X-Forwarded-For is never trusted otherwise."""
    return request.remote_addr or "unknown"


async def account() -> str:
    return f"user:{current_user.auth_id}" if current_user.auth_id else await client_address()


async def login_username() -> str:
    return f"login:{(await request.form).get('username', '').strip().lower()}"


def limited(*settings_and_keys: tuple[str, KeyFunction]) -> Callable[[View], View]:
    """Name the configured limits of a view, e.g. @limited(("RATE_LIMIT_WRITE", account))."""

    def decorator(view: View) -> View:
        setattr(view, SETTINGS_ATTRIBUTE, settings_and_keys)
        return view

    return decorator


def _with_limits(view: Callable[..., Any], limits: list[RateLimit]) -> Callable[..., Any]:
    """A wrapper of `view` that carries this app's limits: the view function itself is shared
    by every app built in the process (tests build many, each with its own configuration)."""

    @wraps(view)
    async def limited_view(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    setattr(limited_view, QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, limits)
    return limited_view


def init_app(app: Quart) -> None:
    """Turn every @limited view's settings into RateLimits; call after the blueprints are in."""
    # Parsed here, so a typo fails at start-up, not at the first request.
    parsed = {setting: parse(app.config[setting]) for setting in RATE_LIMIT_DEFAULTS}
    for endpoint, view in list(app.view_functions.items()):
        if settings := getattr(view, SETTINGS_ATTRIBUTE, None):
            limits = [RateLimit(*parsed[setting], key) for setting, key in settings]
            app.view_functions[endpoint] = _with_limits(view, limits)
    app.config["QUART_RATE_LIMITER_ENABLED"] = app.config["RATE_LIMITS"]
    RateLimiter(app, key_function=client_address)  # a new store per app (and per worker)
