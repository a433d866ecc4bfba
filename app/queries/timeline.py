"""The home timeline: posts by the people a user follows, and their own, newest first.

No single plan suits every viewer (docs/benchmarks.md): for someone who follows few people,
probing each followed author's newest posts reads almost nothing else; for someone who follows
many, scanning all posts newest first meets a followed author's post at once. Each dialect's
statement holds both plans, gated by the viewer's followee count, and the database runs only
one of them. `home_timeline_plain` is the definition both are tested against.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnClause,
    Integer,
    Select,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime, dialect_of
from app.models import Follow, Post
from app.pagination import FETCH, FIRST, Cursor, Page
from app.queries import posts, visibility
from app.queries.posts import NEWEST_FIRST, FeedItem, feed, items, keyset, page_of

_me = bindparam("me", type_=Integer)
since_params = tuple_(
    bindparam("since_at", type_=UTCDateTime()), bindparam("since_id", type_=Integer)
)
# The people whose posts the viewer's timeline shows: those they follow but have muted (or
# blocked, either way: a block ends the follows, but a follow racing it may survive), and
# those suspended. Tested once per followee, never per post: the probe reads only the shown
# followees' posts, the scan tests each post against this set (app/queries/visibility.py).
_followed = select(Follow.followed_id).where(
    Follow.follower_id == _me, visibility.shown(Follow.followed_id, _me)
)
# The gate counts every followee: the cost of the probe grows with them all, shown or not.
_followees = select(func.count()).where(Follow.follower_id == _me)

# Above this many followees the scan finds a page sooner than the probe. PostgreSQL's probe is
# one index probe per followee; SQLite's reads all their posts, so there it pays for a handful.
PROBE_FOLLOWEES_MAX = {"postgresql": 200, "sqlite": 20}


def _by_followed(author: Any) -> Any:
    """`author` is someone the viewer follows, or the viewer."""
    return or_(author.in_(_followed), author == _me)


def _probe_lateral() -> Select[Any]:
    """The newest page of each followed author (and the viewer), merged and cut to a page."""
    authors = union_all(_followed, select(_me)).subquery("authors")
    newest = (
        keyset(Post.author_id == authors.c.followed_id)
        .add_columns(Post.created_at)
        .lateral("newest")
    )
    return (
        select(newest.c.id)
        .select_from(authors)
        .join(newest, true())
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
        .limit(FETCH)
    )


def home_postgresql(probe_max: int) -> Select[Any]:
    """PostgreSQL probes with a LATERAL join; the gate is a WHERE on a constant, which it
    evaluates once (a One-Time Filter: the other branch shows "never executed" in EXPLAIN)."""
    followees = _followees.scalar_subquery()
    gate: ColumnClause[Any] = literal_column(str(probe_max))
    probe = _probe_lateral().where(followees <= gate).subquery("probe")
    scan = keyset(_by_followed(Post.author_id), followees > gate).subquery("scan")
    return page_of(union_all(select(probe.c.id), select(scan.c.id)).subquery("ids"))


def home_sqlite(probe_max: int) -> Select[Any]:
    """SQLite has no LATERAL: its probe reads every post of the (few) followed authors through
    the author index and sorts them; its scan hides author_id in an expression so that the
    planner walks the newest-first index. SQLite would test a WHERE gate on every row, but it
    computes a LIMIT once, before the loop, and a LIMIT of 0 runs nothing: the gate is there."""
    followees = _followees.scalar_subquery()
    gate: ColumnClause[Any] = literal_column(str(probe_max))
    none: ColumnClause[Any] = literal_column("0")
    probe = keyset(_by_followed(Post.author_id)).limit(case((followees <= gate, FETCH), else_=none))
    scan = keyset(_by_followed(Post.author_id + none)).limit(
        case((followees > gate, FETCH), else_=none)
    )
    probe_ids, scan_ids = probe.subquery("probe"), scan.subquery("scan")
    return page_of(union_all(select(probe_ids.c.id), select(scan_ids.c.id)).subquery("ids"))


PLANNERS = {"postgresql": home_postgresql, "sqlite": home_sqlite}
HOME = {dialect: PLANNERS[dialect](n) for dialect, n in PROBE_FOLLOWEES_MAX.items()}


async def home_timeline(
    session: AsyncSession, user_id: int, cursor: Cursor = FIRST
) -> Page[FeedItem]:
    """Posts by everyone user_id follows, and their own, newest first, each once."""
    return await feed(session, HOME[dialect_of(session)], cursor, user_id, me=user_id)


# The definition, written as plainly as SQL allows: what both plans must return, page by page.
HOME_PLAIN = page_of(keyset(_by_followed(Post.author_id)).subquery("ids"))


async def home_timeline_plain(
    session: AsyncSession, user_id: int, cursor: Cursor = FIRST
) -> Page[FeedItem]:
    return await feed(session, HOME_PLAIN, cursor, user_id, me=user_id)


async def shown_followee_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Whose new posts the home timeline shows: the "new posts" banner (app/blueprints/live.py)."""
    return set(await session.scalars(_followed, {"me": user_id}))


NEWER_MAX = 40


async def home_newer(session: AsyncSession, user_id: int, since: Cursor) -> list[FeedItem]:
    """Home posts newer than `since`, newest first, at most NEWER_MAX (the newest of them):
    what the "new posts" banner shows. Reads only what was posted since the page was shown."""
    ids = (
        select(Post.id)
        .where(_by_followed(Post.author_id), tuple_(Post.created_at, Post.id) > since_params)
        .order_by(*NEWEST_FIRST)
        .limit(literal_column(str(NEWER_MAX)))
        .subquery("ids")
    )
    params = {"me": user_id, "viewer": user_id, "since_at": since.at, "since_id": since.id}
    return items(await session.execute(page_of(ids), params))


# The home posts right after a cursor (the client API's min_id), newest first: the plain
# definition read forwards from the cursor, which is recent when a client catches up.
HOME_AFTER = page_of(posts.keyset_after(_by_followed(Post.author_id)).subquery("ids"))


async def home_after(session: AsyncSession, user_id: int, cursor: Cursor) -> list[FeedItem]:
    return await posts.feed_after(session, HOME_AFTER, cursor, user_id, me=user_id)
