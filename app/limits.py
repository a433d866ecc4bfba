"""Abuse limits: how often one address or one account may log in, register, post and follow.

Counters live in each worker process's memory (quart-rate-limiter's MemoryStore): with W
hypercorn workers a client spread over all of them can reach up to W times a limit. That keeps
limits free of database writes; docs/security.md explains the trade-off.
"""

from __future__ import annotations

import re
from datetime import timedelta

from quart import Quart, current_app, request
from quart_auth import current_user
from quart_rate_limiter import QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, RateLimit, RateLimiter

from app.config import RATE_LIMIT_DEFAULTS

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*")


def parse(text: str) -> tuple[int, timedelta]:
    """'10/minute', '30 / 5 minutes', '1000/day' → (count, period)."""
    match = LIMIT_RE.fullmatch(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"a rate limit looks like '10/minute', not {text!r}")
    count, multiple, unit = match.groups()
    return int(count), timedelta(seconds=int(multiple or 1) * UNITS[unit])


class ConfiguredLimit(RateLimit):
    """A RateLimit whose count and period come from the running app's configuration (parsed
    once, by init_app)."""

    def __init__(self, setting: str, key_function: object) -> None:
        self.setting = setting
        self.key_function = key_function  # type: ignore[assignment]
        self.skip_function = None

    @property  # type: ignore[override]
    def count(self) -> int:
        return current_app.extensions["rate_limits"][self.setting][0]

    @property  # type: ignore[override]
    def period(self) -> timedelta:
        return current_app.extensions["rate_limits"][self.setting][1]


async def client_address() -> str:
    """The connecting address. Behind a proxy, PROXY_HOPS makes hypercorn's ProxyFix set it
    from X-Forwarded-For; a client's own X-Forwarded-For is never trusted otherwise."""
    return request.remote_addr or "unknown"


async def account() -> str:
    return f"user:{current_user.auth_id}" if current_user.auth_id else await client_address()


async def login_username() -> str:
    return f"login:{(await request.form).get('username', '').strip().lower()}"


def limited(*settings_and_keys: tuple[str, object]):
    """Attach configured limits to a view, e.g. @limited(("RATE_LIMIT_WRITE", account))."""

    def decorator(view):
        limits = [ConfiguredLimit(setting, key) for setting, key in settings_and_keys]
        setattr(view, QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, limits)
        return view

    return decorator


def init_app(app: Quart) -> None:
    # Parsed here, so a typo fails at start-up, not at the first request.
    app.extensions["rate_limits"] = {s: parse(app.config[s]) for s in RATE_LIMIT_DEFAULTS}
    app.config["QUART_RATE_LIMITER_ENABLED"] = app.config["RATE_LIMITS"]
    RateLimiter(app, key_function=client_address)  # a new store per app (and per worker)
