"""Search within one author's posts (from:name), newest first, cheap for quiet and busy authors.

Reading the words' matches and keeping the author's is what the id windows do
(app/queries/search.py), and it costs every match of a common word when the author wrote few of
them: "from:quiet the" read a quarter of all posts (120-209 ms at 500,000 posts). So the
author's posts come first instead: newest first through the (author_id, created_at, id) index,
each checked against the words (a lookup of that one post in the word index; on SQLite, for a
busy author, the word index read over the span of ids of those posts). A quiet author has few
posts to check. A busy one fills the page from the first few dozen when the words are common;
when they are rare among the author's posts, after AUTHOR_SCAN posts the rest of the page
comes from the words' own matches by the author (docs/architecture.md, "Search"; figures in
docs/benchmarks.md).

Results are ordered as profiles are, by (created_at, id), with the same keyset cursor.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime, dialect_of
from app.models import Post, User
from app.pagination import EPOCH, FETCH, FIRST, PAGE_SIZE, Cursor
from app.queries import visibility
from app.queries.posts import BEFORE_CURSOR, NEWEST_FIRST

# How many of the author's posts (newest first, from the cursor) are checked against the
# words before their own index is asked instead: a check costs 20-180 µs on SQLite (the most
# for a word of middling frequency), so 100 cost at most ~20 ms (docs/benchmarks.md, "Search").
AUTHOR_SCAN = 100
# On SQLite, when those posts span at most this many ids, the word index is read over that span
# instead (words_in_scan): a busy author's 100 posts span ~12,000 ids at 500,000 posts.
DENSE_SPAN = 20_000

FTS = table("posts_fts", column("rowid", Integer), column("posts_fts"))
AUTHOR_ID = select(User.id).where(func.lower(User.username) == bindparam("author"))
# The author's id as a value, not a subquery, so that PostgreSQL plans each statement for it
# (search.py prepares them anew) and knows a busy author from a quiet one by the column's
# statistics. The visibility rules are the author's alone, so they are tested once on the
# value (a one-time filter), not on each post: tested per post, they made PostgreSQL expect
# one row and sort all 4,311 posts of the busiest author instead of reading the author index
# in order and stopping at a page (12.3 ms, then 0.07; docs/benchmarks.md, "Search").
AUTHOR = bindparam("author_id", type_=Integer)

# Runs one statement of ids (on PostgreSQL planned for its words: search.py says why).
Run = Callable[[AsyncSession, Select[Any], dict[str, Any]], Awaitable[list[int]]]


def websearch(query: str) -> Any:
    """A tsquery from a query in websearch syntax that search.py wrote (quoted phrases)."""
    return func.websearch_to_tsquery(literal_column("'simple'::regconfig"), bindparam(query))


def matching(dialect: str, post_id: Any, search: Any, query: str) -> ColumnElement[bool]:
    """Does the post hold the words of parameter `query`? One post's lookup in the index."""
    if dialect == "postgresql":
        return search.op("@@")(websearch(query))  # type: ignore[no-any-return]
    return exists().where(FTS.c.posts_fts.op("MATCH")(bindparam(query)), FTS.c.rowid == post_id)


@functools.cache
def scan_end(scan: int) -> Select[datetime, int]:
    """The oldest of the author's posts the first statement may check: the `scan`-th from the
    cursor, found in the index alone (none: they have fewer, and every one of them is checked).
    """
    return (
        select(Post.created_at, Post.id)
        .where(Post.author_id == AUTHOR, BEFORE_CURSOR)
        .order_by(*NEWEST_FIRST)
        .offset(literal_column(str(scan - 1)))
        .limit(literal_column("1"))
    )


FROM_SCAN_END = tuple_(Post.created_at, Post.id) >= tuple_(
    bindparam("end_at", type_=UTCDateTime()), bindparam("end_id", type_=Integer)
)


@functools.cache
def author_first(dialect: str, include: bool, exclude: bool) -> Select[Any]:
    """Built once per shape: the author's posts newest first from the cursor, with the words
    (`include`: down to scan_end(), stopping at a full page) or without the excluded ones."""
    search: ColumnClause[Any] = literal_column("posts.search")
    conditions = [Post.author_id == AUTHOR, BEFORE_CURSOR, visibility.shown(AUTHOR)]
    if include:
        conditions += [FROM_SCAN_END, matching(dialect, Post.id, search, "match")]
    elif exclude:  # from:name alone, less some words: most of the author's posts qualify
        conditions.append(~matching(dialect, Post.id, search, "unwanted"))
    return select(Post.id).where(*conditions).order_by(*NEWEST_FIRST).limit(FETCH)


@functools.cache
def words_first(dialect: str) -> Select[Any]:
    """Built once per dialect: the words' matches by the author below scan_end(), newest (by id)
    first. Ids ascend with time, as the other searches assume.

    SQLite reads the word index in its own order and stops at a full page (`+ 0` leaves the
    author index out: through it, FTS5 would be asked post by post, as before scan_end()).
    PostgreSQL intersects the author's older posts with the word's matches (both indexes as
    bitmaps) and sorts what is left: reading every match of "find" (9,762 posts) for the
    busiest author's 92 took 19 ms; the intersection ~3 (`+ 0` on the order: no primary key
    walk, a busy author's words being rare among their posts by now).
    """
    search: ColumnClause[Any] = literal_column("posts.search")
    if dialect == "postgresql":
        stmt = select(Post.id).where(search.op("@@")(websearch("match")), Post.author_id == AUTHOR)
        order = Post.id + literal_column("0")
    else:
        stmt = (
            select(Post.id)
            .select_from(FTS)
            .join(Post, Post.id == FTS.c.rowid)
            .where(
                FTS.c.posts_fts.op("MATCH")(bindparam("match")),
                Post.author_id + literal_column("0") == AUTHOR,
            )
        )
        order = FTS.c.rowid
    stmt = stmt.where(~FROM_SCAN_END, visibility.shown(AUTHOR))
    return stmt.order_by(order.desc()).limit(FETCH)


@functools.cache
def words_in_scan() -> Select[Any]:
    """SQLite, an author whose AUTHOR_SCAN newest posts are close together: the words' matches
    in that range of ids, read from the word index, newest (by id) first. Checking each post
    against FTS5 cost 20-180 µs; reading the range costs what the word has in it, at most
    DENSE_SPAN entries, and stops at a full page."""
    rowid = FTS.c.rowid
    return (
        select(Post.id)
        .select_from(FTS)
        .join(Post, Post.id == rowid)
        .where(
            FTS.c.posts_fts.op("MATCH")(bindparam("match")),
            rowid >= bindparam("end_id", type_=Integer),
            rowid < bindparam("before_id", type_=Integer),
            Post.author_id + literal_column("0") == AUTHOR,
            BEFORE_CURSOR,
            FROM_SCAN_END,
            visibility.shown(AUTHOR),
        )
        .order_by(rowid.desc())
        .limit(FETCH)
    )


NEWEST_ID = select(func.max(Post.id))


async def author_ids(
    session: AsyncSession,
    run: Run,
    shape: tuple[bool, bool],
    params: dict[str, Any],
    cursor: Cursor,
) -> list[int]:
    """Up to PAGE_SIZE + 1 ids of the author's posts that match, newest first from `cursor`
    (`shape`: are there words to find, words to leave out)."""
    dialect = dialect_of(session)
    include, _ = shape
    author_id = await session.scalar(AUTHOR_ID, params)
    if author_id is None:
        return []
    params = params | {"author_id": author_id, "before_at": cursor.at, "before_id": cursor.id}
    end = (await session.execute(scan_end(AUTHOR_SCAN), params)).first() if include else None
    params |= {"end_at": end.created_at if end else EPOCH, "end_id": end.id if end else 0}
    first = author_first(dialect, *shape)
    if end is not None and dialect == "sqlite":
        top = cursor.id if cursor != FIRST else (await session.scalar(NEWEST_ID) or 0) + 1
        if top - end.id <= DENSE_SPAN:
            first = words_in_scan()
    ids = await run(session, first, params)
    if end is None or len(ids) > PAGE_SIZE:
        return ids
    return ids + await run(session, words_first(dialect), params)
