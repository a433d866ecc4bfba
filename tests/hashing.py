"""The cheap argon2 cost of every test app, test server and test `warble` command, and the test
password hashed with it (production keeps the strong defaults: test_passwords proves it)."""

from __future__ import annotations

from app.passwords import hasher_for

# argon2's floor: one pass over 8 KiB per lane, one lane. A hash costs microseconds, not 100 ms.
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1}
PASSWORD = "correct horse battery"
# Made with the apps' own parameters, so logging in never rehashes it.
PASSWORD_HASH = hasher_for(CHEAP_ARGON2).hash(PASSWORD)


def cheap_argon2_environ() -> dict[str, str]:
    """CHEAP_ARGON2 as environment variables, for Warble run as a subprocess."""
    return {name: str(value) for name, value in CHEAP_ARGON2.items()}
