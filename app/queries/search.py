"""Search: people by name prefix and posts by their words, on PostgreSQL and SQLite alike.

What people type is parsed here, never handed to a database's own query syntax: words, "phrases
in quotes", -excluded words or phrases, from:name. The statements are then built from the
parsed words, each quoted (websearch_to_tsquery on PostgreSQL, an FTS5 query on SQLite), so no
input can be a syntax error. Both databases index the same words (app/models.py: SEARCH_DDL).

Posts come newest first (by id: the order they were posted in) from a full-text index that
cannot return them in that order. So the ids are searched in windows, newest first (the
WINDOWS newest ids, then those below them) and then, when the page is still not full, through
the word index alone: a common word fills the page in the first window, reading a few dozen
rows; a word too rare to have a page among the newest 34,816 posts has few matches in all,
and the index hands them over (docs/architecture.md, "Search"; figures in docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

from app import text
from app.db import dialect_of
from app.models import USERNAME_MAX, Follow, Post, User
from app.pagination import FETCH, FIRST, PAGE_SIZE, Cursor, Page
from app.queries import posts, visibility
from app.queries.posts import FeedItem, page_of
from app.queries.search_author import FTS, NEWEST_ID, author_ids, websearch

QUERY_MAX = 200  # characters of a query that are read
PHRASES_MAX = 8  # words or phrases of each sign
PEOPLE_MAX = 5
# The newest 2,048 ids, then the 32,768 below them; then all older ones, word index first.
WINDOWS = (2_048, 32_768)
TOP = "\U0010ffff"  # above every character of a name: the names starting with p are [p, p + TOP)

# A word: a run of letters and digits (what both indexes' tokenizers keep; "_" and every other
# character separate words, as they do there).
WORD = re.compile(r"[^\W_]+")
# A "phrase" (a quote left open runs to the end) or a bare word, either with a leading "-".
PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
NAME = re.compile(f"[A-Za-z0-9_]{{1,{USERNAME_MAX}}}")


@dataclass(frozen=True)
class Query:
    text: str  # what was asked, cleaned: shown back in the search box
    include: tuple[str, ...] = ()  # phrases (words joined by spaces) every post must have
    exclude: tuple[str, ...] = ()  # phrases no post may have
    author: str | None = None  # from:name
    name_prefix: str | None = None  # one bare word: people whose name starts with it
    tag_prefix: str | None = None  # one bare word: tags (keys) that start with it
    tag: str | None = None  # the query is one #tag: its key (and a prefix while typing)

    @property
    def finds_posts(self) -> bool:
        return bool(self.include) or self.author is not None


def parse(raw: str) -> Query:
    """Read a query as typed, whatever it holds: controls, lone surrogates and NULs are dropped
    and it is composed (NFC), as bodies are (app/text.py: clean); only the first QUERY_MAX
    characters count."""
    query = cleaned = text.clean(raw)[:QUERY_MAX]
    if query.startswith("#") and " " not in query and text.is_tag(query[1:]):
        key = text.tag_key(query[1:])
        return Query(cleaned, tag=key, tag_prefix=key)
    include: list[str] = []
    exclude: list[str] = []
    author = None
    bare: list[str] = []
    for match in PART.finditer(query):
        sign, quoted, word = match.groups()
        if word is not None and word.lower().startswith("from:"):
            name = word[5:].removeprefix("@")
            if author is None and NAME.fullmatch(name):
                author = name
            continue
        if word is not None:
            sign, quoted = ("-", word[1:]) if word.startswith("-") else ("", word)
            bare.append(word)
        phrase = " ".join(WORD.findall(quoted))
        target = exclude if sign else include
        if phrase and phrase not in target and len(target) < PHRASES_MAX:
            target.append(phrase)
    single = bare[0] if len(bare) == 1 and len(include) + len(exclude) == 1 else None
    return Query(
        cleaned,
        tuple(include),
        tuple(exclude),
        author,
        name_prefix=_name_prefix(single),
        tag_prefix=_tag_prefix(single),
    )


def _name_prefix(word: str | None) -> str | None:
    name = (word or "").removeprefix("@")
    return name.lower() if NAME.fullmatch(name) else None


def _tag_prefix(word: str | None) -> str | None:
    name = (word or "").removeprefix("#")
    if not name or len(name) > text.TAG_MAX or not all(map(text.is_tag_char, name)):
        return None
    return text.tag_key(name)


# -- people ------------------------------------------------------------------------------------


class Person(NamedTuple):
    user: User
    i_follow: bool  # does the viewer follow them?


def _people_by_prefix(dialect: str) -> Select[User, bool]:
    """People whose lower-cased name is in [low, high): one range of the lower(username) index
    (in collation "C" on PostgreSQL: app/models.py says why), in name order."""
    name: ColumnElement[str] = func.lower(User.username)
    if dialect == "postgresql":
        name = name.collate("C")
    viewer = bindparam("viewer", type_=Integer)
    i_follow = exists().where(Follow.follower_id == viewer, Follow.followed_id == User.id)
    return (
        select(User, i_follow)
        .where(
            name >= bindparam("low"),
            name < bindparam("high"),
            visibility.listed(User, viewer),
        )
        .order_by(name)
        .limit(literal_column(str(PEOPLE_MAX)))
    )


PEOPLE = {dialect: _people_by_prefix(dialect) for dialect in ("postgresql", "sqlite")}


async def people_by_prefix(session: AsyncSession, prefix: str, viewer: int | None) -> list[Person]:
    """Up to PEOPLE_MAX people whose name starts with `prefix` (lower case), in name order."""
    stmt = PEOPLE[dialect_of(session)]
    params = {"low": prefix, "high": prefix + TOP, "viewer": viewer or 0}
    return [Person(user, follows) for user, follows in await session.execute(stmt, params)]


# -- posts -------------------------------------------------------------------------------------

_low, _high = bindparam("low", type_=Integer), bindparam("high", type_=Integer)


def window_postgresql(rest: bool) -> Select[Any]:
    """Ids of one window, newest first. PostgreSQL plans each window by the words' frequency
    (the generated column's statistics): a common word walks the primary key backwards and
    stops after a page, a rare one reads its few matches from the GIN index.

    `rest`: every id below `high`, for words with less than a page among the newest posts.
    Across millions of ids PostgreSQL would take a word it has no statistics for (any but the
    few thousand commonest) for far commoner than it is and walk the primary key through
    hundreds of thousands of rows (180 ms at 5 million posts); `id + 0` leaves it no primary
    key to walk, only the word index, whose matches are few since the newest posts had few.
    """
    search: ColumnClause[Any] = literal_column("posts.search")
    post_id = Post.id + literal_column("0") if rest else Post.id
    conditions = [
        post_id >= _low,
        post_id < _high,
        search.op("@@")(websearch("match")),
        visibility.shown(Post.author_id),
    ]
    return select(Post.id).where(*conditions).order_by(post_id.desc()).limit(FETCH)


def window_sqlite(rest: bool) -> Select[Any]:
    """Ids of one window, newest first: FTS5 reads its matches in descending rowid order
    within the window's range (the rest of the ids alike)."""
    stmt = select(FTS.c.rowid).where(
        FTS.c.posts_fts.op("MATCH")(bindparam("match")), FTS.c.rowid >= _low, FTS.c.rowid < _high
    )
    # Each match's author, through the key, for the visibility rules.
    stmt = stmt.join(Post, Post.id == FTS.c.rowid).where(visibility.shown(Post.author_id))
    return stmt.order_by(FTS.c.rowid.desc()).limit(FETCH)


@functools.cache
def _window(dialect: str, rest: bool) -> Select[Any]:
    """Built once per shape of query (app/queries/__init__.py says why)."""
    return WINDOW_STATEMENTS[dialect](rest)


def window(dialect: str, *, rest: bool = False) -> Select[Any]:
    """The statement that finds one window's ids (`rest`: all older ids); a query with
    from:name reads the author's posts instead (app/queries/search_author.py)."""
    return _window(dialect, rest)


def _quoted(phrases: tuple[str, ...], joiner: str) -> str:
    """Each phrase in double quotes (its words hold none), joined."""
    return joiner.join(f'"{phrase}"' for phrase in phrases)


def search_params(query: Query, dialect: str, viewer: int | None = None) -> dict[str, Any]:
    """The parameters of the window statement: the query strings (websearch syntax or FTS5
    syntax) and who is looking (0: nobody)."""
    params: dict[str, Any] = {
        "author": query.author.lower() if query.author else None,
        "viewer": viewer or 0,
    }
    if dialect == "postgresql":
        match = " ".join([_quoted(query.include, " "), *(f'-"{p}"' for p in query.exclude)])
        params |= {"match": match, "unwanted": _quoted(query.exclude, " or ")}
    else:
        match = "(" + _quoted(query.include, " AND ") + ")"
        if query.exclude:
            match += " NOT (" + _quoted(query.exclude, " OR ") + ")"
        params |= {"match": match, "unwanted": _quoted(query.exclude, " OR ")}
    return params


WINDOW_STATEMENTS = {"postgresql": window_postgresql, "sqlite": window_sqlite}
# The page's posts, newest (highest id) first.
BY_ID = (
    page_of(select(Post.id).where(Post.id.in_(bindparam("ids", expanding=True))).subquery("ids"))
    .order_by(None)
    .order_by(Post.id.desc())
)


async def search_posts(
    session: AsyncSession, query: Query, cursor: Cursor = FIRST, *, viewer: int | None = None
) -> Page[FeedItem]:
    """The posts that match, newest first (by id), PAGE_SIZE from the one before cursor.id."""
    if not query.finds_posts:
        return Page([], None)
    dialect = dialect_of(session)
    params = search_params(query, dialect, viewer)
    run = _window_ids_planned_for_the_words if dialect == "postgresql" else _window_ids
    if query.author is not None:
        shape = bool(query.include), bool(query.exclude)
        ids = await author_ids(session, run, shape, params, cursor)
    else:
        ids = await _windows_ids(session, run, params, cursor)
    if not ids:
        return Page([], None)
    shown = {"ids": ids[:PAGE_SIZE]}
    found = posts.items(await session.execute(BY_ID, shown | {"viewer": viewer or 0}))
    more = len(ids) > PAGE_SIZE
    return Page(found, Cursor(found[-1].post.created_at, found[-1].post.id) if more else None)


async def _windows_ids(
    session: AsyncSession, run: Any, params: dict[str, Any], cursor: Cursor
) -> list[int]:
    """Up to PAGE_SIZE + 1 ids that match, newest first below cursor.id, window by window."""
    dialect = dialect_of(session)
    high = cursor.id
    if cursor == FIRST:
        high = (await session.scalar(NEWEST_ID) or 0) + 1
    ids: list[int] = []
    for size in (*WINDOWS, None):  # None: every older id
        if high <= 0 or len(ids) > PAGE_SIZE:
            break
        low = 0 if size is None else max(0, high - size)
        stmt = _window(dialect, size is None)
        ids += await run(session, stmt, params | {"low": low, "high": high})
        high = low
    return ids


async def _window_ids(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any]
) -> list[int]:
    return list(await session.scalars(stmt, params))


async def _window_ids_planned_for_the_words(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any]
) -> list[int]:
    """PostgreSQL: one window, with a plan made for these words.

    The best plan depends on the words: walk the primary key backwards for a common one, read
    the GIN index for a rare one. SQLAlchemy's asyncpg driver prepares each statement once per
    connection, and after five runs PostgreSQL may keep one generic plan for every word, right
    for few of them: "the" took 33 ms a page instead of 3 (docs/benchmarks.md, "Search"). So
    this statement is prepared anew each time, on the request's own connection, and planned
    for its values. SQLAlchemy still compiles it, with bound parameters.
    """
    compiled = _compiled(stmt, session.get_bind().dialect)
    connection = await (await session.connection()).get_raw_connection()
    prepared = await connection.driver_connection.prepare(compiled.string)  # type: ignore[union-attr]
    args = [params[name] for name in compiled.positiontup or ()]
    return [row[0] for row in await prepared.fetch(*args)]


@functools.cache
def _compiled(stmt: Select[Any], dialect: Dialect) -> SQLCompiler:
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled
