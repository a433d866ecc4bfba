"""Keyset cursors: an opaque `before`/`after` value naming the last row a page showed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnClause, literal_column

T = TypeVar("T")
PAGE_SIZE = 20
# LIMIT as a literal: a bound LIMIT makes PostgreSQL re-plan the statement on every run.
FETCH: ColumnClause[Any] = literal_column(str(PAGE_SIZE + 1))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns
# The first page is "everything before the end of time": one statement serves every page.
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    at: datetime | None  # None: a row with no timestamp (legacy comments)
    id: int

    def encode(self) -> str:
        stamp = "n" if self.at is None else str((self.at - EPOCH) // MICROSECOND)
        return f"{stamp}.{self.id}"


FIRST = Cursor(END_OF_TIME, MAX_ID)


# ASCII digits, as encode() writes them. Not str.isdigit(): it says yes to a superscript two,
# which int() refuses (a 500), and to other scripts' digits (U+0661), which int() reads.
DIGITS = re.compile("[0-9]+")


class InvalidCursor(ValueError):
    """A cursor that Warble did not write (the web layer answers 400)."""


def decode(raw: str | None, default: Cursor = FIRST) -> Cursor:
    """Parse a cursor from the query string; anything malformed raises InvalidCursor."""
    if raw is None or raw == "":
        return default
    stamp, dot, ident = raw.partition(".")
    if not dot or not DIGITS.fullmatch(ident) or len(ident) > 10 or len(stamp) > 20:
        raise InvalidCursor()
    row_id = int(ident)
    if row_id > MAX_ID:
        raise InvalidCursor()
    if stamp == "n":
        return Cursor(None, row_id)
    if not DIGITS.fullmatch(stamp.removeprefix("-")):
        raise InvalidCursor()
    try:
        at = EPOCH + int(stamp) * MICROSECOND
    except OverflowError:
        raise InvalidCursor() from None
    if not (EPOCH <= at <= END_OF_TIME):
        raise InvalidCursor()
    return Cursor(at, row_id)


@dataclass(frozen=True)
class Rank:
    """A cursor for lists ranked by a count (most-followed people): the count, then the id."""

    count: int
    id: int

    def encode(self) -> str:
        return f"{self.count}.{self.id}"


# Counts of rows keyed by 32-bit ids never exceed MAX_ID (and bind as INTEGER on PostgreSQL).
FIRST_RANK = Rank(MAX_ID, MAX_ID)


def decode_rank(raw: str | None) -> Rank:
    """Parse a ranked cursor ("12.345"); anything malformed raises InvalidCursor."""
    if raw is None or raw == "":
        return FIRST_RANK
    count, dot, ident = raw.partition(".")
    if not dot or not DIGITS.fullmatch(count) or not DIGITS.fullmatch(ident):
        raise InvalidCursor()
    if len(count) > 10 or len(ident) > 10 or int(ident) > MAX_ID or int(count) > MAX_ID:
        raise InvalidCursor()
    return Rank(int(count), int(ident))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Cursor | None  # where the following page starts; None on the last page


@dataclass(frozen=True)
class RankedPage(Generic[T]):
    items: list[T]
    next: Rank | None


def cut_ranked(rows: list[T], key: Callable[[T], Rank], size: int = PAGE_SIZE) -> RankedPage[T]:
    if len(rows) > size:
        rows = rows[:size]
        return RankedPage(rows, key(rows[-1]))
    return RankedPage(rows, None)


def cut(rows: list[T], key: Callable[[T], Cursor], size: int = PAGE_SIZE) -> Page[T]:
    """Rows were fetched with LIMIT size + 1: the extra one only says there is more."""
    if len(rows) > size:
        rows = rows[:size]
        return Page(rows, key(rows[-1]))
    return Page(rows, None)
