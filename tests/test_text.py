"""Cleaning what people type: bidi controls dropped, invisible-only text is empty, links honest."""

from __future__ import annotations

from app import text


def test_clean_drops_c1_controls_like_c0_ones():
    assert text.clean("a\x80b\x9fc\x85d") == "abcd"
