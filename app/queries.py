"""Every read and write Warble makes: async functions taking the session first; none commits.

Statements that run on every page view are built once, at import, with bound parameters:
building a SQLAlchemy statement costs more than running a keyset query on an index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from app.db import UTCDateTime
from app.models import Comment, Follow, Post, User
from app.pagination import FIRST, PAGE_SIZE, Cursor, Page, cut

# LIMIT as a literal: a bound LIMIT makes PostgreSQL re-plan the statement on every run.
FETCH = literal_column(str(PAGE_SIZE + 1))

_me = bindparam("me", type_=Integer)
_before = tuple_(bindparam("before_at", type_=UTCDateTime()), bindparam("before_id", type_=Integer))
_newest_first = (Post.created_at.desc(), Post.id.desc())


# -- users -------------------------------------------------------------------------------------


def auth_id_for(user: User) -> str:
    """What a session cookie names: the user and the session epoch it was issued in."""
    return f"{user.id}.{user.session_epoch}"


async def get_user_by_auth_id(session: AsyncSession, auth_id: str) -> User | None:
    """The user a session belongs to, or None if the session was ended (or is malformed)."""
    user_id, _, epoch = auth_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()) or len(user_id) > 10:
        return None
    user = await session.get(User, int(user_id))
    if user is None or user.session_epoch != int(epoch):
        return None
    return user


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    stmt = select(User).where(func.lower(User.username) == username.lower())
    return await session.scalar(stmt)


async def username_taken(session: AsyncSession, username: str) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    return await session.scalar(stmt) is not None


async def email_taken(session: AsyncSession, email: str, *, except_user_id: int = 0) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email.lower(), User.id != except_user_id)
    return await session.scalar(stmt) is not None


async def existing_usernames(session: AsyncSession, names: set[str]) -> dict[str, str]:
    """Map each lower-cased name that belongs to a user to that user's spelling."""
    if not names:
        return {}
    stmt = select(User.username).where(func.lower(User.username).in_(sorted(names)))
    return {name.lower(): name for name in await session.scalars(stmt)}


async def create_user(session: AsyncSession, username: str, email: str, password_hash: str) -> User:
    user = User(username=username, email=email, password_hash=password_hash)
    session.add(user)
    await session.flush()
    return user


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    """A rehash of the same password: sessions stay valid."""
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def change_password(session: AsyncSession, user_id: int, password_hash: str) -> None:
    """A new password ends every session of the user (their cookies name the old epoch)."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, session_epoch=User.session_epoch + 1)
    )


async def update_profile(session: AsyncSession, user: User, *, about_me: str, email: str) -> None:
    user.about_me = about_me
    user.email = email
    await session.flush()


async def touch_last_seen(session: AsyncSession, user: User, when: datetime) -> None:
    user.last_seen_at = when
    await session.flush()


# -- follows -----------------------------------------------------------------------------------


async def follow(session: AsyncSession, follower_id: int, followed_id: int) -> None:
    """Idempotent: following twice leaves one edge and raises nothing, even under a race."""
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Follow).values(follower_id=follower_id, followed_id=followed_id)
    await session.execute(stmt.on_conflict_do_nothing())


async def unfollow(session: AsyncSession, follower_id: int, followed_id: int) -> None:
    await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followed_id == followed_id)
    )


async def is_following(session: AsyncSession, follower_id: int, followed_id: int) -> bool:
    stmt = select(
        exists().where(Follow.follower_id == follower_id, Follow.followed_id == followed_id)
    )
    return bool(await session.scalar(stmt))


async def follower_count(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).select_from(Follow).where(Follow.followed_id == user_id)
    return await session.scalar(stmt) or 0


async def following_count(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
    return await session.scalar(stmt) or 0


class Relations(NamedTuple):
    followers: int
    following: int
    i_follow: bool  # does the viewer follow this user?


async def relations(session: AsyncSession, user_id: int, viewer: int | None) -> Relations:
    """A profile's counts and the viewer's follow state, in one round trip."""
    stmt = select(
        select(func.count()).where(Follow.followed_id == user_id).scalar_subquery(),
        select(func.count()).where(Follow.follower_id == user_id).scalar_subquery(),
        exists().where(Follow.follower_id == (viewer or 0), Follow.followed_id == user_id),
    )
    return Relations(*(await session.execute(stmt)).one())


class Person(NamedTuple):
    user: User
    followed_at: datetime
    i_follow: bool  # does the viewer follow this person?


async def _people(
    session: AsyncSession, me: int | None, mine: Any, theirs: Any, user_id: int, cursor: Cursor
) -> Page[Person]:
    viewer_follows = (
        exists()
        .where(Follow.follower_id == (me or 0), Follow.followed_id == User.id)
        .correlate(User)
    )
    stmt = (
        select(User, Follow.created_at, viewer_follows)
        .join(Follow, theirs == User.id)
        .where(mine == user_id, tuple_(Follow.created_at, theirs) < (cursor.at, cursor.id))
        .order_by(Follow.created_at.desc(), theirs.desc())
        .limit(FETCH)
    )
    rows = [Person(*row) for row in await session.execute(stmt)]
    return cut(rows, lambda p: Cursor(p.followed_at, p.user.id))


async def followers(
    session: AsyncSession, user_id: int, *, viewer: int | None, cursor: Cursor = FIRST
) -> Page[Person]:
    return await _people(session, viewer, Follow.followed_id, Follow.follower_id, user_id, cursor)


async def following(
    session: AsyncSession, user_id: int, *, viewer: int | None, cursor: Cursor = FIRST
) -> Page[Person]:
    return await _people(session, viewer, Follow.follower_id, Follow.followed_id, user_id, cursor)


# -- posts and timelines -----------------------------------------------------------------------


class FeedItem(NamedTuple):
    post: Post
    comment_count: int


_comment_count = (
    select(func.count(Comment.id)).where(Comment.post_id == Post.id).correlate(Post)
).scalar_subquery()


def _page_of(ids: Any) -> Select[Any]:
    """Load the posts named by a subquery of ids, with authors and comment counts, in one go."""
    return (
        select(Post, _comment_count)
        .join(ids, Post.id == ids.c.id)
        .join(Post.author)
        .options(contains_eager(Post.author))
        .order_by(*_newest_first)
    )


def _keyset(*conditions: Any) -> Select[Any]:
    return (
        select(Post.id)
        .where(*conditions, tuple_(Post.created_at, Post.id) < _before)
        .order_by(*_newest_first)
        .limit(FETCH)
    )


_followed = select(Follow.followed_id).where(Follow.follower_id == _me)

# Everyone's posts, newest first: explore, and the anonymous front page.
EXPLORE = _page_of(_keyset().subquery("ids"))

# One author's posts: profiles.
BY_AUTHOR = _page_of(_keyset(Post.author_id == bindparam("author")).subquery("ids"))


def _home_probe_lateral() -> Select[Any]:
    """The newest page of each followed author (and the viewer), merged and cut to a page."""
    authors = union_all(_followed, select(_me)).subquery("authors")
    newest = (
        select(Post.id, Post.created_at)
        .where(Post.author_id == authors.c.followed_id, tuple_(Post.created_at, Post.id) < _before)
        .order_by(*_newest_first)
        .limit(FETCH)
        .lateral("newest")
    )
    return (
        select(newest.c.id)
        .select_from(authors)
        .join(newest, true())
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
        .limit(FETCH)
    )


def home_statement(dialect: str, probe_max: int) -> Select[Any]:
    """The home timeline (posts of the people the viewer follows, and their own) in one statement.

    No single plan suits every viewer (docs/benchmarks.md): for someone who follows few people,
    probing each followed author's newest posts reads almost nothing else; for someone who
    follows many, scanning all posts newest first meets a followed author's post at once. Both
    plans are in the statement, gated by the viewer's followee count, and the database runs
    only one of them:

    - PostgreSQL probes with a LATERAL join, and the gate is a WHERE on a constant, which it
      evaluates once (a One-Time Filter: the other branch shows "never executed" in EXPLAIN).
    - SQLite has no LATERAL: its probe reads every post of the (few) followed authors through
      the author index and sorts them; its scan hides author_id in an expression so that the
      planner walks the newest-first index. SQLite would test a WHERE gate on every row, but it
      computes a LIMIT once, before the loop, and a LIMIT of 0 runs nothing: the gate is there.
    """
    followees = select(func.count()).where(Follow.follower_id == _me).scalar_subquery()
    gate = literal_column(str(probe_max))
    if dialect == "postgresql":
        probe = _home_probe_lateral().where(followees <= gate)
        scan = _keyset(_by_followed(Post.author_id), followees > gate)
    else:
        none = literal_column("0")
        probe = _keyset(_by_followed(Post.author_id)).limit(
            case((followees <= gate, FETCH), else_=none)
        )
        scan = _keyset(_by_followed(Post.author_id + none)).limit(
            case((followees > gate, FETCH), else_=none)
        )
    probe, scan = probe.subquery("probe"), scan.subquery("scan")
    return _page_of(union_all(select(probe.c.id), select(scan.c.id)).subquery("ids"))


def _by_followed(author: Any) -> Any:
    return or_(author.in_(_followed), author == _me)


# Above this many followees the scan finds a page sooner than the probe. PostgreSQL's probe is
# one index probe per followee; SQLite's reads all their posts, so there it pays for a handful.
PROBE_FOLLOWEES_MAX = {"postgresql": 200, "sqlite": 20}
HOME = {dialect: home_statement(dialect, n) for dialect, n in PROBE_FOLLOWEES_MAX.items()}


async def _feed(session: AsyncSession, stmt: Select[Any], cursor: Cursor, **params: Any) -> Page:
    params |= {"before_at": cursor.at, "before_id": cursor.id}
    rows = [FeedItem(post, count) for post, count in await session.execute(stmt, params)]
    return cut(rows, lambda item: Cursor(item.post.created_at, item.post.id))


async def home_timeline(
    session: AsyncSession, user_id: int, cursor: Cursor = FIRST
) -> Page[FeedItem]:
    """Posts by everyone user_id follows, and their own, newest first, each once."""
    return await _feed(session, HOME[session.bind.dialect.name], cursor, me=user_id)


async def explore(session: AsyncSession, cursor: Cursor = FIRST) -> Page[FeedItem]:
    return await _feed(session, EXPLORE, cursor)


async def user_posts(session: AsyncSession, user_id: int, cursor: Cursor = FIRST) -> Page[FeedItem]:
    return await _feed(session, BY_AUTHOR, cursor, author=user_id)


async def get_post(session: AsyncSession, post_id: int) -> FeedItem | None:
    stmt = (
        select(Post, _comment_count)
        .join(Post.author)
        .options(contains_eager(Post.author))
        .where(Post.id == post_id)
    )
    row = (await session.execute(stmt)).first()
    return FeedItem(*row) if row else None


async def create_post(session: AsyncSession, author: User, body: str) -> Post:
    post = Post(author_id=author.id, body=body, author=author)
    session.add(post)
    await session.flush()
    return post


async def delete_post(session: AsyncSession, post_id: int) -> None:
    """Its comments go with it: ON DELETE CASCADE (SQLite's engine turns foreign keys on)."""
    await session.execute(delete(Post).where(Post.id == post_id))


# -- comments ----------------------------------------------------------------------------------


async def comments_for(
    session: AsyncSession, post_id: int, cursor: Cursor | None = None
) -> Page[Comment]:
    """A post's comments, oldest first; comments with no time come before all others."""
    stmt = (
        select(Comment)
        .outerjoin(Comment.author)
        .options(contains_eager(Comment.author))
        .where(Comment.post_id == post_id)
        .order_by(Comment.created_at.asc().nulls_first(), Comment.id.asc())
        .limit(FETCH)
    )
    if cursor is not None:
        if cursor.at is None:
            after = or_(
                Comment.created_at.is_not(None),
                (Comment.created_at.is_(None)) & (Comment.id > cursor.id),
            )
        else:
            after = or_(
                Comment.created_at > cursor.at,
                (Comment.created_at == cursor.at) & (Comment.id > cursor.id),
            )
        stmt = stmt.where(after)
    rows = list(await session.scalars(stmt))
    return cut(rows, lambda c: Cursor(c.created_at, c.id))


async def get_comment(session: AsyncSession, comment_id: int) -> Comment | None:
    stmt = select(Comment).where(Comment.id == comment_id)
    return await session.scalar(stmt)


async def add_comment(session: AsyncSession, post_id: int, author: User, body: str) -> Comment:
    comment = Comment(post_id=post_id, author_id=author.id, body=body, author=author)
    session.add(comment)
    await session.flush()
    return comment


async def delete_comment(session: AsyncSession, comment_id: int) -> None:
    await session.execute(delete(Comment).where(Comment.id == comment_id))


async def comment_count(session: AsyncSession, post_id: int) -> int:
    stmt = select(func.count()).select_from(Comment).where(Comment.post_id == post_id)
    return await session.scalar(stmt) or 0


async def post_exists(session: AsyncSession, post_id: int) -> bool:
    return bool(await session.scalar(select(exists().where(Post.id == post_id))))
