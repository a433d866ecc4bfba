"""Abuse limits: how often one address or one account may log in, register, post and follow.

Counters live in each worker process's memory (quart-rate-limiter's MemoryStore): with W
hypercorn workers a client spread over all of them can reach up to W times a limit. That keeps
limits free of database writes; docs/security.md explains the trade-off.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from math import ceil
from typing import Any, TypeVar

from quart import Quart, current_app, request
from quart_auth import current_user
from quart_rate_limiter import (
    QUART_RATE_LIMITER_LIMITS_ATTRIBUTE,
    RateLimit,
    RateLimiter,
    RateLimitExceeded,
)
from quart_rate_limiter.store import MemoryStore as LibraryMemoryStore

from app import accounts
from app.config import RATE_LIMIT_DEFAULTS

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*")
# Where @limited leaves a view's (setting, key function) pairs for init_app to turn into limits.
SETTINGS_ATTRIBUTE = "_warble_limit_settings"
# Settings that are one budget per key across every view that names them, rather than one per
# view. RATE_LIMIT_AUTH: log-in, registration and the password form each cost an argon2 hash
# (~190 ms of CPU), and registration and the profile form both answer "is this address taken";
# counted per view, one address would get that many times the budget.
SHARED_BUDGETS = frozenset({"RATE_LIMIT_AUTH"})

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
    """The username a log-in names, as a digest: whatever a client sends, the key stays short.
    Normalised as the log-in looks it up, so every spelling of one account shares its count."""
    typed = (await request.form).get("username", "")
    name = accounts.normalize_username(typed).lower()
    return "login:" + hashlib.sha256(name.encode(errors="surrogatepass")).hexdigest()[:32]


def limited(*settings_and_keys: tuple[str, KeyFunction]) -> Callable[[View], View]:
    """Name the configured limits of a view, e.g. @limited(("RATE_LIMIT_WRITE", account))."""

    def decorator(view: View) -> View:
        setattr(view, SETTINGS_ATTRIBUTE, settings_and_keys)
        return view

    return decorator


@dataclass
class Limit(RateLimit):
    """A RateLimit that names its budget: quart-rate-limiter keys its counts by endpoint, so
    each view counts alone; Warble keys them by `budget`, which init_app sets to the endpoint,
    or to the setting's name for SHARED_BUDGETS (one count for every view that names it)."""

    budget: str = ""


@dataclass(frozen=True)
class Step:
    """One limit's part in a request, in the GCRA's terms (quart-rate-limiter's algorithm):
    a request moves `key`'s theoretical arrival time (TAT) on by `inverse` seconds, and is
    refused if that time is already more than `allowance` seconds ahead of now."""

    key: str
    inverse: float
    allowance: float


def _steps_wait(steps: Sequence[Step], tats: Sequence[datetime], now: datetime) -> float:
    """Seconds until every step allows the request: 0 or less means now."""
    pairs = zip(steps, tats, strict=True)
    return max((tat - now).total_seconds() - step.allowance for step, tat in pairs)


class MemoryStore(LibraryMemoryStore):
    """quart-rate-limiter's per-process store, with a step that checks and records every limit
    of a request without awaiting in between (atomic on the worker's one event loop), and with
    entries dropped once their time has passed (they then mean the same as no entry)."""

    SWEEP_EVERY = timedelta(seconds=1)

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = datetime.min.replace(tzinfo=UTC)

    def __len__(self) -> int:
        return len(self._tats)

    async def check_and_record(self, steps: Sequence[Step], now: datetime) -> float:
        """Seconds to wait if a limit refuses the request; else 0, and the request counted."""
        tats = [max(self._tats.get(step.key, now), now) for step in steps]
        if (wait := _steps_wait(steps, tats, now)) > 0:
            return wait
        for step, tat in zip(steps, tats, strict=True):
            self._tats[step.key] = tat + timedelta(seconds=step.inverse)
        if now >= self._next_sweep:  # at most once a second: a sweep visits every entry
            self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
            self._next_sweep = now + self.SWEEP_EVERY
        return 0.0


class Limiter(RateLimiter):
    """quart-rate-limiter's RateLimiter, counting a request in one step. The library checks
    every limit, then records them; a key function that awaits in between (login_username
    reads the body) let concurrent requests all pass the check before any was recorded. Here
    every key is worked out first, then the store checks and records them all at once."""

    store: MemoryStore

    async def _before_request(self) -> None:
        if not current_app.config["QUART_RATE_LIMITER_ENABLED"] or request.endpoint is None:
            return
        view = current_app.view_functions.get(request.endpoint)
        if view is None:
            return
        blueprint = current_app.blueprints.get(request.blueprint or "")
        steps = [
            Step(
                await self._create_key(request.endpoint, limit),
                limit.inverse,
                limit.period.total_seconds() - limit.inverse,
            )
            for limit in self._get_limits_for_view_function(view, blueprint)
            if not await self._should_skip(limit)
        ]
        if steps and (wait := await self.store.check_and_record(steps, datetime.now(UTC))) > 0:
            raise RateLimitExceeded(ceil(wait))

    async def _create_key(self, endpoint: str, rate_limit: RateLimit) -> str:
        budget = rate_limit.budget if isinstance(rate_limit, Limit) else endpoint
        key_function = rate_limit.key_function or self.key_function
        return f"warble:{budget}:{rate_limit.key}:{await key_function()}"


def _with_limits(view: Callable[..., Any], limits: list[RateLimit]) -> Callable[..., Any]:
    """A wrapper of `view` that carries this app's limits: the view function itself is shared
    by every app built in the process (tests build many, each with its own configuration)."""

    @wraps(view)
    async def limited_view(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    setattr(limited_view, QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, limits)
    return limited_view


def _budget(setting: str, endpoint: str) -> str:
    return setting if setting in SHARED_BUDGETS else endpoint


def init_app(app: Quart) -> None:
    """Turn every @limited view's settings into Limits; call after the blueprints are in."""
    # Parsed here, so a typo fails at start-up, not at the first request.
    parsed = {setting: parse(app.config[setting]) for setting in RATE_LIMIT_DEFAULTS}
    for endpoint, view in list(app.view_functions.items()):
        if settings := getattr(view, SETTINGS_ATTRIBUTE, None):
            limits: list[RateLimit] = [
                Limit(*parsed[setting], key, budget=_budget(setting, endpoint))
                for setting, key in settings
            ]
            app.view_functions[endpoint] = _with_limits(view, limits)
    app.config["QUART_RATE_LIMITER_ENABLED"] = app.config["RATE_LIMITS"]
    # A new store per app (and so per worker).
    Limiter(app, key_function=client_address, store=MemoryStore())
