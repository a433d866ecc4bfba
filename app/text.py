"""Turning what people typed into safe HTML, and times and avatars into words and URLs."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from markupsafe import Markup, escape

from app.db import utcnow

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])")
TOKEN_RE = re.compile(f"{URL_RE.pattern}|{MENTION_RE.pattern}", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def clean(text: str) -> str:
    """Normalise line ends and drop control characters and lone surrogates, then trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL.sub("", text).strip()


def mentioned(bodies: list[str]) -> set[str]:
    """Lower-cased usernames that appear as @name in any of the bodies."""
    return {m.group(1).lower() for body in bodies for m in MENTION_RE.finditer(body)}


def linkify(body: str, users: dict[str, str]) -> Markup:
    """Escape a body, linking URLs and the @mentions of users who exist (`users`: lower → name)."""
    out: list[str] = []
    position = 0
    for match in TOKEN_RE.finditer(body):
        start, end = match.span()
        out.append(escape(body[position:start]))
        token = match.group(0)
        if token.startswith("@"):
            name = users.get(token[1:].lower())
            if name is None:
                out.append(escape(token))
            else:
                out.append(Markup('<a class="mention" href="/user/{0}">@{0}</a>').format(name))
        else:
            url = token.rstrip(TRAILING)
            end = start + len(url)
            out.append(
                Markup('<a href="{0}" rel="nofollow ugc noopener" target="_blank">{0}</a>').format(
                    url
                )
            )
        position = end
    out.append(escape(body[position:]))
    return Markup("").join(out)


def timeago(when: datetime | None, now: datetime | None = None) -> str:
    """'3 min ago' for recent times, a date for older ones."""
    if when is None:
        return "at an unknown time"
    now = now or utcnow()
    minutes = int((now - when).total_seconds()) // 60
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 24 * 60:
        return f"{minutes // 60} h ago"
    if minutes < 7 * 24 * 60:
        return f"{minutes // (24 * 60)} d ago"
    return when.strftime("%b %-d" if when.year == now.year else "%b %-d, %Y")


def absolute(when: datetime) -> str:
    return when.strftime("%-d %B %Y, %H:%M UTC")


def html_datetime(when: datetime) -> str:
    """The value of a <time datetime>: UTC to the whole second, '2026-11-21T16:12:27Z'.

    HTML allows one to three digits of fractional seconds; isoformat() writes six.
    https://html.spec.whatwg.org/multipage/common-microsyntaxes.html#valid-global-date-and-time-string
    """
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gravatar_url(email: str, size: int) -> str:
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?{urlencode({'d': 'identicon', 's': size})}"


def identicon_svg(seed: str) -> str:
    """A symmetric 5x5 pattern and a colour, both derived from the seed: the same seed, the same
    picture, with no request to anyone else's server."""
    digest = hashlib.sha256(seed.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    cells = []
    for row in range(5):
        for col in range(3):
            if digest[2 + row * 3 + col] % 2:
                for x in {col, 4 - col}:
                    cells.append(f'<rect x="{x + 1}" y="{row + 1}" width="1" height="1"/>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 7 7" shape-rendering="crispEdges">'
        f'<rect width="7" height="7" fill="hsl({hue} 45% 92%)"/>'
        f'<g fill="hsl({hue} 55% 45%)">{"".join(cells)}</g></svg>'
    )
