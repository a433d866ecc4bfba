"""Turning what people typed into safe HTML, and times into words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from markupsafe import Markup, escape

from app.clock import utcnow

# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069) reorder what follows
# them up to the end of the paragraph: "https://example.com/\u202egnp.exe" reads ".../exe.png".
# No post needs them: clean() drops them, and linkify() too (rows stored before clean() did). The
# marks LRM, RLM and ALM (U+200E, U+200F, U+061C) stay: right-to-left writing needs them, and they
# act on their neighbours as a letter would, without reordering a run of text.
# https://www.unicode.org/reports/tr9/#Explicit_Directional_Embeddings
BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
# Invisible: a character that puts no ink on the page by design. That is every White_Space
# character (regex \s, str.isspace), every format character (category Cf: zero-width space and
# joiners, bidi controls, soft hyphen, BOM, tags...), every Default_Ignorable_Code_Point (adding
# variation selectors, the combining grapheme joiner and the Hangul fillers U+115F, U+1160, U+3164,
# U+FFA0, the usual "blank name" trick) and U+2800 BRAILLE PATTERN BLANK, a symbol whose glyph is
# empty by definition. Everything else is visible: letters, digits, marks, symbols, private-use and
# unassigned code points (fonts draw a box). A few Cf signs are drawn (U+0600-U+0605, U+06DD: they
# span the digits after them) but mean nothing alone, so a body of only those is empty too.
# Inside text invisible characters stay (U+200D joins emoji, U+200C shapes Persian words, U+FE0F
# asks for an emoji's colour form). A body with nothing else is empty, and a link ends at one, so
# its address is what the reader sees. tests/test_text.py checks the ranges against Python's
# Unicode data. https://www.unicode.org/reports/tr44/#Default_Ignorable_Code_Point
INVISIBLE = (
    r"\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u17b4-\u17b5"
    r"\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff"
    r"\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
BLANK = re.compile(rf"[\s{INVISIBLE}]*")
URL_RE = re.compile(rf"https?://[^\s<>\"'{INVISIBLE}]+", re.IGNORECASE)
HASH_RE = re.compile("#")
MENTION_RE = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])")
TOKEN_RE = re.compile(f"{URL_RE.pattern}|{MENTION_RE.pattern}", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
BIDI = re.compile(f"[{BIDI_CONTROLS}]")
# C0 controls but tab and newline, DEL and the C1 controls, lone surrogates, bidi controls.
CONTROL = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{BIDI_CONTROLS}]")


def clean(text: str) -> str:
    """Normalise line ends, drop control characters, lone surrogates and bidi controls, trim,
    and compose (NFC); text with nothing visible in it cleans to "".

    NFC: "café" typed as "cafe" and a combining accent (as some keyboards and macOS file names
    write it) is stored as the one character "é", so search finds it by either spelling: the
    indexes compare code points (migration 0012 composed the bodies stored before)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", CONTROL.sub("", text)).strip()
    return "" if is_blank(text) else text


def is_blank(text: str) -> bool:
    """True when no character of the text is visible (see INVISIBLE)."""
    return BLANK.fullmatch(text) is not None


def normalize_email(email: str) -> str:
    """The form in which two email addresses are compared: NFKC, then casefold. Unlike SQL's
    lower(), the same on every database and for every script ("Ärger@" is "ärger@")."""
    return unicodedata.normalize("NFKC", email).casefold()


def mentioned(bodies: list[str]) -> set[str]:
    """Lower-cased usernames that appear as @name in any of the bodies."""
    return {m.group(1).lower() for body in bodies for m in MENTION_RE.finditer(body)}


# Hashtags: "#" and a run of tag characters (letters, digits, underscore, and the combining
# marks written with letters: "#cafe\u0301" is one tag) holding at least one letter, at most
# TAG_MAX characters long, in its normal form too. Not a tag: "#123"; a "#" right after a tag
# character ("C#", "a#b"), "&" (the text "&#x27;"), "/" or "#" ("/#top", "##"), or inside a URL
# ("https://example.org/#top" is all link). linkify() runs on the raw text and escapes every
# piece it did not recognise, so nothing typed can become markup.
TAG_MAX = 100
TAG_BLOCKED_AFTER = "&/#"


class Tag(NamedTuple):
    key: str  # tag_key(display): how tags are compared, stored and put in URLs
    display: str  # as written, without the "#"


def tag_key(name: str) -> str:
    """The form in which two tags are the same: NFKC, casefold, NFKC again (Unicode's
    NFKC_Casefold, near enough), so "#Café", "#CAFÉ" and "#ｃａｆé" are one tag on every
    database, whatever its collation."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def is_tag_char(char: str) -> bool:
    return char == "_" or char.isalnum() or unicodedata.category(char)[0] == "M"


def is_tag(name: str) -> bool:
    """Could `name` (without "#") be a hashtag?"""
    return (
        0 < len(name) <= TAG_MAX
        and all(is_tag_char(c) for c in name)
        and any(c.isalpha() for c in name)
        and len(tag_key(name)) <= TAG_MAX
    )


def hashtag_spans(body: str) -> list[tuple[int, int]]:
    """Where the #tags of a body are: (start, end) of each, "#" included, in order."""
    urls = [m.span() for m in URL_RE.finditer(body)]
    spans = []
    for match in HASH_RE.finditer(body):
        start = match.start()
        if start and (is_tag_char(body[start - 1]) or body[start - 1] in TAG_BLOCKED_AFTER):
            continue
        if any(low <= start < high for low, high in urls):
            continue
        end = start + 1
        while end < len(body) and is_tag_char(body[end]):
            end += 1
        if is_tag(body[start + 1 : end]):
            spans.append((start, end))
    return spans


def hashtags(body: str) -> list[Tag]:
    """The distinct tags of a body in order of appearance, each displayed as first written."""
    body = BIDI.sub("", body)  # as linkify() reads it
    found: dict[str, Tag] = {}
    for start, end in hashtag_spans(body):
        display = body[start + 1 : end]
        found.setdefault(tag_key(display), Tag(tag_key(display), display))
    return list(found.values())


def linkify(
    body: str,
    users: dict[str, str],
    profile_url: Callable[[str], str],
    tag_url: Callable[[str], str],
) -> Markup:
    """Escape a body, linking URLs, the @mentions of users who exist (`users`: lower → name,
    `profile_url`: name → the profile's URL) and #tags (`tag_url`: key → the tag's page)."""
    body = BIDI.sub("", body)
    tokens = [(m.start(), m.end(), m.group(0)) for m in TOKEN_RE.finditer(body)]
    tokens += [(start, end, body[start:end]) for start, end in hashtag_spans(body)]
    out: list[str] = []
    position = 0
    for start, end, token in sorted(tokens):
        out.append(escape(body[position:start]))
        if token.startswith("#"):
            link = Markup('<a class="hashtag" href="{0}">#{1}</a>')
            out.append(link.format(tag_url(tag_key(token[1:])), token[1:]))
        elif token.startswith("@"):
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


# A post in a feed is folded after about this many lines ("Show more"), counting a line of text
# as wrapping every LINE_CHARS characters, about a phone's width.
FOLD_LINES = 12
LINE_CHARS = 40


def is_long(body: str) -> bool:
    """Might this body take more than FOLD_LINES lines on a phone? (static/app.js unfolds the
    ones that turn out to fit the reader's screen.)"""
    lines = sum(max(1, -(-len(line) // LINE_CHARS)) for line in body.split("\n"))
    return lines > FOLD_LINES


def excerpt(body: str, length: int = 80) -> str:
    """The start of a body on one line, for a post's accessible name: no bidi controls (as in
    linkify), whitespace runs as one space, cut at a word with an ellipsis."""
    words = BIDI.sub("", body).split()
    out = ""
    for word in words:
        if len(out) + len(word) + 1 > length:
            return (out or word[:length]) + "…"
        out = f"{out} {word}" if out else word
    return out


def body_error(body: str, limit: int, what: str) -> str | None:
    """For a post or comment body, already cleaned."""
    if is_blank(body):
        return f"Write something first: an empty {what} cannot be sent."
    if len(body) > limit:
        return f"Keep it to {limit} characters (this {what} has {len(body)})."
    return None
