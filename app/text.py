"""Turning what people typed into safe HTML, and times into words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from markupsafe import Markup, escape

from app.clock import utcnow

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])")
TOKEN_RE = re.compile(f"{URL_RE.pattern}|{MENTION_RE.pattern}", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
# C0 controls but tab and newline, DEL and the C1 controls, lone surrogates.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str) -> str:
    """Normalise line ends and drop control characters and lone surrogates, then trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL.sub("", text).strip()


def mentioned(bodies: list[str]) -> set[str]:
    """Lower-cased usernames that appear as @name in any of the bodies."""
    return {m.group(1).lower() for body in bodies for m in MENTION_RE.finditer(body)}


def linkify(body: str, users: dict[str, str], profile_url: Callable[[str], str]) -> Markup:
    """Escape a body, linking URLs and the @mentions of users who exist (`users`: lower → name,
    `profile_url`: name → the profile's URL)."""
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
                link = Markup('<a class="mention" href="{0}">@{1}</a>')
                out.append(link.format(profile_url(name), name))
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


def body_error(body: str, limit: int, what: str) -> str | None:
    """For a post or comment body, already cleaned."""
    if not body:
        return f"Write something first: an empty {what} cannot be sent."
    if len(body) > limit:
        return f"Keep it to {limit} characters (this {what} has {len(body)})."
    return None
