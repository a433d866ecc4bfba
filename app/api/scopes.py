"""OAuth scopes as Mastodon names them: which exist, and whether a grant covers a need.

`read`, `write` and `follow` each stand for their granular scopes (`read:statuses`...);
`follow` is Mastodon's older name for the follow, block and mute scopes of both kinds.
https://docs.joinmastodon.org/api/oauth-scopes/
"""

from __future__ import annotations

READ = (
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
)
WRITE = (
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
)
FOLLOW = frozenset(
    {"read:follows", "write:follows", "read:blocks", "write:blocks", "read:mutes", "write:mutes"}
)
KNOWN = frozenset(
    {"read", "write", "follow", "push", "profile"}
    | {f"read:{name}" for name in READ}
    | {f"write:{name}" for name in WRITE}
)
ORDER = {name: n for n, name in enumerate(("read", "write", "follow", "push", "profile"))}
DEFAULT = "read"  # what an app that names no scopes gets, as on Mastodon
MAX_LENGTH = 255


def parse(raw: str | None) -> frozenset[str] | None:
    """The scopes of a space-separated list ("read write follow"); None if any is unknown.
    Empty or missing: the default."""
    if raw is None or not raw.strip():
        return frozenset({DEFAULT})
    if len(raw) > MAX_LENGTH:
        return None
    found = frozenset(raw.split())
    return found if found <= KNOWN else None


def covers(granted: frozenset[str], needed: str) -> bool:
    """Does a grant of `granted` allow what needs `needed` (a granular scope like
    "write:statuses")?"""
    if needed in granted:
        return True
    family = needed.partition(":")[0]
    if family in granted:
        return True
    if needed == "read:accounts" and "profile" in granted:
        return True
    return "follow" in granted and needed in FOLLOW


def covers_all(granted: frozenset[str], asked: frozenset[str]) -> bool:
    return all(covers(granted, scope) for scope in asked)


def text(scopes: frozenset[str]) -> str:
    """The space-separated form the database and the answers hold, in a stable order."""
    return " ".join(sorted(scopes, key=lambda s: (ORDER.get(s, len(ORDER)), s)))
