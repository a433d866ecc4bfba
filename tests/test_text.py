"""Cleaning what people type: bidi controls dropped, invisible-only text is empty, links honest."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from app import text
from app.models import User

BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man, woman, girl joined by U+200D
# Text with nothing visible in it: spaces, format characters, default-ignorables, fillers.
INVISIBLE_ONLY = [
    "\u200b",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u00ad",
    " \u200b \n\t\u3000\u00a0",
    "\u3164",
    "\u115f\u1160\uffa0",
    "\u2800",
    "\ufe0f\u034f",
    "\U000e0041\U000e007f",
    "\u200e\u200f\u061c",
    "\u202e",
    "\u2066\u2069",
    "\u2028\u2029\u0085",
]
EMPTY = "Write something first: an empty post cannot be sent."


def profile_url(name: str) -> str:
    return f"/user/{name}"


def tag_url(key: str) -> str:
    return f"/tags/{key}"


def link(url: str) -> str:
    return f'<a href="{url}" rel="nofollow ugc noopener" target="_blank">{url}</a>'


@pytest.mark.parametrize("control", BIDI_CONTROLS)
def test_clean_drops_every_bidi_override_embedding_and_isolate(control):
    assert text.clean(f"abc{control}def{control}") == "abcdef"


def test_clean_keeps_joiners_and_selectors_inside_text():
    assert text.clean(FAMILY) == FAMILY
    assert text.clean("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # Persian: U+200C shapes the word
    )
    assert text.clean("I \u2764\ufe0f it") == "I \u2764\ufe0f it"
    assert text.clean("\u05e9\u05dc\u05d5\u05dd \u200fok") == "\u05e9\u05dc\u05d5\u05dd \u200fok"


def test_clean_drops_c1_controls_like_c0_ones():
    assert text.clean("a\x80b\x9fc\x85d") == "abcd"


@pytest.mark.parametrize("raw", INVISIBLE_ONLY)
def test_text_with_nothing_visible_is_empty(raw):
    assert text.clean(raw) == ""
    assert text.body_error(raw, 500, "post") == EMPTY


@pytest.mark.parametrize("raw", ["\u200bx", "\u0301", "\ue000", "\ufffd", FAMILY, "\u200d\u2764"])
def test_one_visible_character_is_enough(raw):
    assert text.clean(raw) == raw
    assert text.body_error(raw, 500, "post") is None


def test_every_space_and_format_character_counts_as_invisible():
    """Checked against this Python's Unicode data, so a newer Unicode cannot slip past the list
    of ranges in app/text.py."""
    missed = [
        f"U+{c:04X}"
        for c in range(sys.maxunicode + 1)
        if (chr(c).isspace() or unicodedata.category(chr(c)) == "Cf") and not text.is_blank(chr(c))
    ]
    assert missed == []


def test_a_url_ends_at_an_invisible_character():
    html = text.linkify("https://exam\u200bple.com/x", {}, profile_url, tag_url)
    assert html == link("https://exam") + "\u200bple.com/x"


def test_a_bidi_override_never_reaches_the_page_even_from_an_old_row():
    """Rows stored before clean() dropped bidi controls are displayed without them too."""
    html = text.linkify("see https://example.com/\u202egnp.exe \u2067now", {}, profile_url, tag_url)
    assert html == f"see {link('https://example.com/gnp.exe')} now"


async def test_about_me_drops_bidi_controls(client, make_user, session):
    john = await make_user("john")
    await client.login(john)
    form = {"about_me": "\u202eolleh", "email": "john@example.com"}
    assert (await client.post("/settings/profile", form)).status_code == 302
    session.expire_all()
    assert (await session.get(User, john.id)).about_me == "olleh"


async def test_about_me_with_nothing_visible_is_saved_empty(client, make_user, session):
    john = await make_user("john")
    await client.login(john)
    form = {"about_me": "\u200b\u3164 \u2800", "email": "john@example.com"}
    assert (await client.post("/settings/profile", form)).status_code == 302
    session.expire_all()
    assert (await session.get(User, john.id)).about_me == ""
