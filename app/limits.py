"""Abuse limits: how often one address or one account may log in, register, post and follow.

Counters live in each worker process's memory (RATE_LIMIT_STORE=memory, the default: with W
hypercorn workers a client spread over all of them can reach up to W times a limit), or in one
Redis that every worker and host shares (RATE_LIMIT_STORE=redis://host:port/db).
docs/security.md explains the trade-off.
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
from quart_rate_limiter.redis_store import RedisStore as LibraryRedisStore
from quart_rate_limiter.store import MemoryStore as LibraryMemoryStore
from redis.exceptions import RedisError
from werkzeug.exceptions import ServiceUnavailable

from app import accounts
from app.config import RATE_LIMIT_DEFAULTS
from app.health import UNAVAILABLE

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*")
# Where @limited leaves a view's (setting, key function) pairs for init_app to turn into limits.
SETTINGS_ATTRIBUTE = "_warble_limit_settings"
# Settings that are one budget per key across every view that names them, rather than one per
# view. RATE_LIMIT_AUTH: log-in, registration and the password form each cost an argon2 hash
# (~190 ms of CPU), and registration and the profile form both answer "is this address taken";
# counted per view, one address would get that many times the budget.
# RATE_LIMIT_REPORT: reporting a post, a comment or an account is one budget, so that three
# kinds of report do not triple it.
SHARED_BUDGETS = frozenset({"RATE_LIMIT_AUTH", "RATE_LIMIT_REPORT"})

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


# The same step in Redis, as one script: Redis runs a script alone, so concurrent requests from
# every worker and host are counted one at a time (quart-rate-limiter's own RedisStore gets,
# then sets, and two processes can both read the old count). KEYS: the limits' keys; ARGV[1]:
# now, then each limit's inverse and allowance, all in seconds. Each entry expires when its
# time has passed. Returns the seconds to wait, as text ("0": the request passed, recorded).
CHECK_AND_RECORD = """
local now = tonumber(ARGV[1])
local tats = {}
local wait = 0
for i, key in ipairs(KEYS) do
    local tat = math.max(tonumber(redis.call("GET", key) or now), now)
    wait = math.max(wait, tat - now - tonumber(ARGV[2 * i + 1]))
    tats[i] = tat
end
if wait > 0 then
    return string.format("%.6f", wait)
end
for i, key in ipairs(KEYS) do
    local tat = tats[i] + tonumber(ARGV[2 * i])
    redis.call("SET", key, string.format("%.6f", tat), "PXAT", string.format("%d", tat * 1000 + 1))
end
return "0"
"""
# A Redis that stops answering makes limited requests fail after this many seconds (a 503)
# instead of hanging them.
REDIS_TIMEOUT = 2.0


class RedisStore(LibraryRedisStore):
    """quart-rate-limiter's Redis store, with the check-and-record step as one Lua script.
    The library's own get (stored as seconds since the epoch) still serves the RateLimit-*
    response headers."""

    def __init__(self, url: str) -> None:
        super().__init__(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)

    async def check_and_record(self, steps: Sequence[Step], now: datetime) -> float:
        assert self._redis is not None, "the store connects in before_serving"
        arguments: list[float] = [now.timestamp()]
        for step in steps:
            arguments += [step.inverse, step.allowance]
        try:
            keys = [step.key for step in steps]
            wait = await self._redis.eval(CHECK_AND_RECORD, len(keys), *keys, *arguments)
        except RedisError:
            raise ServiceUnavailable(UNAVAILABLE, retry_after=5) from None
        return float(wait)

    async def get(self, key: str, default: datetime) -> datetime:
        """The stored time, for the response headers only: without Redis, a default."""
        try:
            return await super().get(key, default)
        except RedisError:
            return default

    async def after_serving(self) -> None:
        if self._redis is not None:  # aclose: the library's close() is deprecated in redis 5
            await self._redis.aclose()
            self._redis = None


def make_store(setting: str) -> MemoryStore | RedisStore:
    """RATE_LIMIT_STORE: `memory`, or a Redis URL (redis://, rediss:// or unix://)."""
    if setting == "memory":
        return MemoryStore()
    if setting.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(setting)
    raise ValueError(f"RATE_LIMIT_STORE is 'memory' or a redis:// URL, not {setting!r}")


class Limiter(RateLimiter):
    """quart-rate-limiter's RateLimiter, counting a request in one step. The library checks
    every limit, then records them; a key function that awaits in between (login_username
    reads the body) let concurrent requests all pass the check before any was recorded. Here
    every key is worked out first, then the store checks and records them all at once."""

    store: MemoryStore | RedisStore

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
    parse(app.config["RATE_LIMIT_API"])  # app/api/auth.py applies it
    store = make_store(app.config["RATE_LIMIT_STORE"])
    for endpoint, view in list(app.view_functions.items()):
        if settings := getattr(view, SETTINGS_ATTRIBUTE, None):
            limits: list[RateLimit] = [
                Limit(*parsed[setting], key, budget=_budget(setting, endpoint))
                for setting, key in settings
            ]
            app.view_functions[endpoint] = _with_limits(view, limits)
    app.config["QUART_RATE_LIMITER_ENABLED"] = app.config["RATE_LIMITS"]
    Limiter(app, key_function=client_address, store=store)  # a new store per app (per worker)
    app.extensions["warble_limits_store"] = store  # the client API counts its budget here too
