"""Hashtags: a post's tags, a tag as first written, tags by prefix, and the trending ones.

`post_tags` is written when a post is written or edited (`set_post_tags`) and goes with the post
(ON DELETE CASCADE); nothing here parses a body. Tags are compared by key (app/text.py:
tag_key) and shown as first written: the display of the tag's oldest use. A tag's timeline is
a page of posts like the others: queries/posts.py, tagged_posts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ScalarSelect,
    Select,
    bindparam,
    delete,
    desc,
    distinct,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import text
from app.db import Base, UTCDateTime, dialect_of
from app.models import Post, PostTag

TRENDING_HOURS = 24
TRENDING_MAX = 10
PREFIX_MAX = 10
# Above every code point a tag key can hold: the keys starting with p are [p, p + TOP).
TOP = "\U0010ffff"


async def set_post_tags(session: AsyncSession, post_id: int, body: str) -> None:
    """Make the post's tags the tags of `body` (its new text, on an edit): idempotent, safe
    against a concurrent edit of the same post; the author and time are the post's own."""
    tags = text.hashtags(body)
    stale = delete(PostTag).where(PostTag.post_id == post_id)
    if tags:
        stale = stale.where(PostTag.tag.not_in([tag.key for tag in tags]))
    await session.execute(stale)
    if not tags:
        return
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    source = select(
        Post.id,
        bindparam("tag", type_=PostTag.tag.type),
        bindparam("display", type_=PostTag.display.type),
        Post.author_id,
        Post.created_at,
    ).where(Post.id == post_id)
    # The Core table, not the class: one executemany, not the ORM's bulk insert of objects.
    stmt = insert(Base.metadata.tables["post_tags"]).from_select(
        ["post_id", "tag", "display", "author_id", "created_at"], source
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[PostTag.post_id, PostTag.tag], set_={"display": stmt.excluded.display}
    )
    await session.execute(stmt, [{"tag": tag.key, "display": tag.display} for tag in tags])


def _first_display(key: Any) -> ScalarSelect[Any]:
    """How the tag was first written: its oldest use (the tag index, read backwards)."""
    first = aliased(PostTag)
    return (
        select(first.display)
        .where(first.tag == key)
        .order_by(first.created_at.asc(), first.post_id.asc())
        .limit(1)
        .scalar_subquery()
    )


async def tag_display(session: AsyncSession, key: str) -> str | None:
    """The tag as first written, or None when no post has it."""
    return await session.scalar(select(_first_display(literal(key, PostTag.tag.type))))


class FoundTag(NamedTuple):
    key: str
    display: str


def _next_key(previous: Any, high: Any, *, inclusive: bool = False) -> ScalarSelect[Any]:
    """The first key after `previous` (or `previous` itself) below `high`: one index probe."""
    step = aliased(PostTag)
    return (
        select(step.tag)
        .where(step.tag >= previous if inclusive else step.tag > previous, step.tag < high)
        .order_by(step.tag)
        .limit(1)
        .scalar_subquery()
    )


def _by_prefix() -> Select[Any]:
    """Distinct keys in [low, high), one index probe each: a recursive query steps from one key
    to the next (a "loose index scan"), however many posts each key has."""
    low = bindparam("low", type_=PostTag.tag.type)
    high = bindparam("high", type_=PostTag.tag.type)
    first = _next_key(low, high, inclusive=True)
    found = select(first.label("tag"), literal(1).label("n")).cte("found", recursive=True)
    found = found.union_all(
        select(_next_key(found.c.tag, high), found.c.n + 1).where(
            found.c.tag.is_not(None), found.c.n < PREFIX_MAX
        )
    )
    return select(found.c.tag, _first_display(found.c.tag)).where(found.c.tag.is_not(None))


BY_PREFIX = _by_prefix()


async def tags_by_prefix(session: AsyncSession, prefix: str) -> list[FoundTag]:
    """Up to PREFIX_MAX distinct tags whose key starts with `prefix` (a key), in code point
    order, so an exact match comes first."""
    params = {"low": prefix, "high": prefix + TOP}
    return [FoundTag(key, display) for key, display in await session.execute(BY_PREFIX, params)]


class Trend(NamedTuple):
    key: str
    display: str
    authors: int  # distinct authors who used it in the window
    posts: int


def _trending() -> Select[Any]:
    """The tags the most distinct authors used between `since` and `now` (ties: the most
    posts, then by key). Reads only that window's rows of post_tags, through its index on
    created_at: docs/benchmarks.md, "Search"."""
    authors = func.count(distinct(PostTag.author_id)).label("authors")
    posts = func.count().label("posts")
    window = (
        PostTag.created_at > bindparam("since", type_=UTCDateTime()),
        PostTag.created_at <= bindparam("now", type_=UTCDateTime()),
    )
    counted = (
        select(PostTag.tag, authors, posts)
        .where(*window)
        .group_by(PostTag.tag)
        .order_by(desc(authors), desc(posts), PostTag.tag)
        .limit(literal_column(str(TRENDING_MAX)))
        .subquery("counted")
    )
    return select(
        counted.c.tag, _first_display(counted.c.tag), counted.c.authors, counted.c.posts
    ).order_by(counted.c.authors.desc(), counted.c.posts.desc(), counted.c.tag)


TRENDING = _trending()


async def trending(session: AsyncSession, now: datetime) -> list[Trend]:
    """The trending tags of the TRENDING_HOURS before `now`, most distinct authors first."""
    params = {"since": now - timedelta(hours=TRENDING_HOURS), "now": now}
    return [Trend(*row) for row in await session.execute(TRENDING, params)]
