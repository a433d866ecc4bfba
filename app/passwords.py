"""Password hashing with argon2id, run off the event loop (one hash costs tens of milliseconds)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from quart import Quart, current_app, has_app_context

from app import config


def hasher_for(settings: Mapping[str, Any]) -> PasswordHasher:
    """argon2id with the cost that `settings` (the app's config) names."""
    return PasswordHasher(
        time_cost=settings["ARGON2_TIME_COST"],
        memory_cost=settings["ARGON2_MEMORY_COST"],
        parallelism=settings["ARGON2_PARALLELISM"],
    )


class Passwords:
    """A hasher, and the hash verified for unknown users, made with the same parameters."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.hasher = hasher_for(settings)
        # Verified when the username does not exist, so that path costs the same as a wrong
        # password. Hashed now, so parameters argon2 refuses stop the app at start.
        self.dummy_hash = self.hasher.hash("warble: no such user")


def init_app(app: Quart) -> None:
    app.extensions["passwords"] = Passwords(app.config)


@cache
def _from_environment() -> Passwords:
    """For code that runs outside any app, such as the `warble` command."""
    return Passwords(config.from_environment())


def _passwords() -> Passwords:
    if has_app_context():
        passwords: Passwords = current_app.extensions["passwords"]
        return passwords
    return _from_environment()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_passwords().hasher.hash, password)


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when password matches; with no hash, spends the same time and returns False."""
    passwords = _passwords()
    if password_hash is None:
        await asyncio.to_thread(_verify, passwords.hasher, passwords.dummy_hash, password)
        return False
    return await asyncio.to_thread(_verify, passwords.hasher, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _passwords().hasher.check_needs_rehash(password_hash)
