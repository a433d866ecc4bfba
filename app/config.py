"""Warble's settings: defaults, then the environment. The one module that reads os.environ."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from argon2.profiles import RFC_9106_LOW_MEMORY

RATE_LIMIT_DEFAULTS = {
    # Per address, one budget for log-in, registration and the password and profile forms.
    "RATE_LIMIT_AUTH": "10/minute",
    "RATE_LIMIT_LOGIN_USER": "10/minute",  # log-in attempts per username, from anywhere
    "RATE_LIMIT_WRITE": "30/minute",  # posts, comments and edits per account
    "RATE_LIMIT_FOLLOW": "60/minute",  # follow, block, mute and their undos, each per account
    "RATE_LIMIT_LIKE": "120/minute",  # like and unlike toggles per account
    "RATE_LIMIT_REPORT": "10/hour",  # reports of posts, comments and accounts per account
}
# Client API requests per token and, separately, per address (Mastodon's own default).
RATE_LIMIT_API_DEFAULT = "300/5 minutes"
# Who may sign up (docs/moderation.md): anyone, anyone an admin approves, anyone with an
# invite code, or nobody (accounts are then made with `warble user create`).
REGISTRATION_MODES = ("open", "approval", "invite", "closed")
INVITERS = ("users", "admins")  # INVITES: who may create invite links
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def _choice(name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def instance_path() -> Path:
    """Where Warble keeps its SQLite database and generated secret key."""
    return Path(os.environ.get("WARBLE_INSTANCE", "instance")).resolve()


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{instance_path() / 'warble.db'}"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or default_database_url()


def database_schema() -> str | None:
    """PostgreSQL only: keep Warble's tables in this schema instead of `public`."""
    return os.environ.get("DATABASE_SCHEMA") or None


DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def base_url() -> str:
    """Where the world reaches this Warble: the only source of absolute URLs (feeds, and
    later API fields), never the request's Host header. No trailing slash."""
    raw = os.environ.get("BASE_URL", "").strip() or DEFAULT_BASE_URL
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"BASE_URL must look like https://warble.example.org, not {raw!r}")
    return raw.rstrip("/")


def load_secret_key(folder: Path) -> str:
    """Return SECRET_KEY, or a random key generated once and kept in folder/secret_key (0600)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = folder / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def from_environment() -> dict[str, Any]:
    """Build the app's configuration from defaults and the environment."""
    folder = instance_path()
    secure = _flag("SECURE_COOKIES", True)
    rate_limits = os.environ.get("RATE_LIMITS", "on").strip().lower()
    return {
        "DATABASE_URL": database_url(),
        "BASE_URL": base_url(),
        "DATABASE_SCHEMA": database_schema(),
        "DB_POOL_SIZE": _int("DB_POOL_SIZE", 10),
        "INSTANCE_PATH": str(folder),
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "REGISTRATION_OPEN": _flag("REGISTRATION_OPEN", True),
        # None: follow REGISTRATION_OPEN (derived() decides), which keeps meaning what it did.
        "REGISTRATION": _choice("REGISTRATION", REGISTRATION_MODES, None),
        "INVITES": _choice("INVITES", INVITERS, "users"),
        "AVATARS": os.environ.get("AVATARS", "identicon").strip().lower(),
        "RATE_LIMITS": rate_limits not in FALSE,
        # `memory` (each worker counts alone) or a Redis URL every worker and host shares.
        "RATE_LIMIT_STORE": os.environ.get("RATE_LIMIT_STORE", "memory").strip(),
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
        "SECURE_COOKIES": secure,
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 64 * 1024),
        # Seconds a request's whole body may take to arrive; then 408 and the connection closes
        # (Quart's setting: its default of 60 let a stalled body hold its request that long).
        "BODY_TIMEOUT": _int("BODY_TIMEOUT", 10),
        # argon2id cost. The defaults are argon2-cffi's own (RFC 9106, low-memory profile,
        # https://www.rfc-editor.org/rfc/rfc9106#section-4); only tests should lower them.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", RFC_9106_LOW_MEMORY.time_cost),
        "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", RFC_9106_LOW_MEMORY.memory_cost),  # KiB
        "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", RFC_9106_LOW_MEMORY.parallelism),
        "SESSION_IDLE_HOURS": _int("SESSION_IDLE_HOURS", 24),
        "REMEMBER_DAYS": _int("REMEMBER_DAYS", 30),
        "HSTS_MAX_AGE": _int("HSTS_MAX_AGE", 365 * 24 * 3600),
        "RATE_LIMIT_API": os.environ.get("RATE_LIMIT_API", RATE_LIMIT_API_DEFAULT),
    } | {name: os.environ.get(name, default) for name, default in RATE_LIMIT_DEFAULTS.items()}


def derived(config: dict[str, Any]) -> dict[str, Any]:
    """Settings that follow from others, so an override of one stays consistent."""
    secure = config["SECURE_COOKIES"]
    mode = config.get("REGISTRATION") or ("open" if config["REGISTRATION_OPEN"] else "closed")
    if mode not in REGISTRATION_MODES:
        raise ValueError(
            f"REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}, not {mode!r}"
        )
    if config.get("INVITES", "users") not in INVITERS:
        raise ValueError(f"INVITES must be one of {', '.join(INVITERS)}, not {config['INVITES']!r}")
    return {
        "REGISTRATION": mode,
        "REGISTRATION_OPEN": mode != "closed",
        "QUART_AUTH_COOKIE_SECURE": secure,
        "QUART_AUTH_COOKIE_SAMESITE": "Lax",
        "QUART_AUTH_COOKIE_HTTP_ONLY": True,
        "QUART_AUTH_COOKIE_NAME": "warble_auth",
        # "Remember me" keeps the cookie as long as the server keeps its session.
        "QUART_AUTH_DURATION": config["REMEMBER_DAYS"] * 24 * 3600,
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_NAME": "warble_session",
    }
