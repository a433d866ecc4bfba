"""The reference pages' statements: Warble's own, compiled once to SQL text for raw asyncpg."""

# Each page of bench/reference.py must show the rows Warble's page shows (bench/pages.py checks
# it), so it runs the SQL Warble's queries compile to, with the same visibility rules in it:
# compiled here at import, executed by asyncpg with positional arguments, with no SQLAlchemy
# at request time. Where Warble binds a list with an expanding IN, the reference binds one
# array (`= ANY($n)`): the same rows, one statement text. What Warble builds per call from
# its arguments is rebuilt here from the same pieces, with bound parameters instead.

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import asyncpg as pg
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.sql import Executable
from sqlalchemy.sql.selectable import LABEL_STYLE_TABLENAME_PLUS_COL

from app.db import UTCDateTime
from app.models import Comment, Follow, Notification, Post, User
from app.pagination import FETCH, Cursor
from app.queries import comments, events, notifications, posts, search, tags, visibility

DIALECT = pg.dialect()
_ids = bindparam("ids", type_=ARRAY(Integer))


@dataclass(frozen=True)
class Statement:
    """SQL text with `$n` placeholders and the parameter each stands for."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]  # values compiled into the statement (LIMITs Warble binds)

    def args(self, params: dict[str, Any]) -> list[Any]:
        values = self.fixed | params
        return [values[name] for name in self.names]

    async def fetch(self, conn: asyncpg.Connection, **params: Any) -> list[asyncpg.Record]:
        return await conn.fetch(self.sql, *self.args(params))

    async def fetchrow(self, conn: asyncpg.Connection, **params: Any) -> asyncpg.Record | None:
        return await conn.fetchrow(self.sql, *self.args(params))

    async def fetchval(self, conn: asyncpg.Connection, **params: Any) -> Any:
        return await conn.fetchval(self.sql, *self.args(params))


def compiled(stmt: Executable) -> Statement:
    """Columns labelled table_column (posts_id, users_username...), as rows are read by name."""
    if hasattr(stmt, "set_label_style"):
        stmt = stmt.set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
    c = stmt.compile(dialect=DIALECT)
    names = tuple(c.positiontup or ())
    return Statement(c.string, names, {k: v for k, v in c.params.items() if v is not None})


# -- pages of posts (posts.page_of: the post, its author, comment and like counts, liked) ------

EXPLORE = compiled(posts.EXPLORE)
BY_AUTHOR = compiled(posts.BY_AUTHOR)
# search.BY_ID, with the page's ids as one array.
SEARCH_BY_ID = compiled(
    posts.page_of(select(Post.id).where(Post.id == any_(_ids)).subquery("ids"))
    .order_by(None)
    .order_by(Post.id.desc())
)
# posts.find_post: the post and whether the viewer may see it.
FIND_POST = compiled(posts.FIND_POST)  # post_id, viewer

# -- people -------------------------------------------------------------------------------------

USER_BY_NAME = compiled(select(User).where(func.lower(User.username) == bindparam("name")))
# users.existing_usernames: the @names of a page that belong to someone.
USERNAMES = compiled(
    select(User.username).where(
        func.lower(User.username) == any_(bindparam("names", type_=ARRAY(String)))
    )
)
# follows.followed_among: explore's Follow buttons.
FOLLOWED_AMONG = compiled(
    select(Follow.followed_id).where(
        Follow.follower_id == bindparam("viewer", type_=Integer), Follow.followed_id == any_(_ids)
    )
)
_user, _viewer = bindparam("user", type_=Integer), bindparam("viewer", type_=Integer)
# follows.relations: a profile's counts and how the viewer stands with its owner.
RELATIONS = compiled(
    select(
        select(func.count()).where(Follow.followed_id == _user).scalar_subquery(),
        select(func.count()).where(Follow.follower_id == _user).scalar_subquery(),
        exists().where(Follow.follower_id == _viewer, Follow.followed_id == _user),
        *visibility.between(_viewer, _user),
    )
)
PEOPLE_BY_PREFIX = compiled(search.PEOPLE["postgresql"])

# -- tags ---------------------------------------------------------------------------------------

TRENDING = compiled(tags.TRENDING)
TAGS_BY_PREFIX = compiled(tags.BY_PREFIX)

# -- comments (comments.comments_for: the first page, up to the time the page is shown) --------

_until = Cursor(bindparam("until_at", type_=UTCDateTime()), bindparam("until_id", type_=Integer))
COMMENTS = compiled(
    select(Comment)
    .outerjoin(Comment.author)
    .options(contains_eager(Comment.author))
    .where(
        Comment.post_id == bindparam("post", type_=Integer),
        visibility.shown_or_nobody(Comment.author_id),
        comments._up_to(_until),
    )
    .order_by(Comment.created_at.asc().nulls_first(), Comment.id.asc())
    .limit(FETCH)
)

# -- search -------------------------------------------------------------------------------------

NEWEST_POST = compiled(select(func.max(Post.id)))


@functools.cache
def search_window(rest: bool) -> Statement:
    """search.window_postgresql, compiled once per shape (`rest`: every older id). A query
    with from:name reads the author's posts instead (app/queries/search_author.py); the
    reference page's query has none."""
    return compiled(search.window_postgresql(rest))


# -- notifications ------------------------------------------------------------------------------

_me = bindparam("me", type_=Integer)
NOTIFICATIONS = compiled(notifications.PAGE)  # user_id, at, id
UNREAD = compiled(select(notifications.unread_count_of(_me)))
# notifications.mark_read: the shown ones, and the likes each listed like stands for.
_shown = aliased(Notification)  # not the UPDATE's own row: a subquery of its own
MARK_READ = compiled(
    update(Notification)
    .where(
        Notification.recipient_id == _me,
        or_(
            Notification.id == any_(_ids),
            and_(
                Notification.kind == "like",
                Notification.post_id.in_(
                    select(_shown.post_id).where(_shown.id == any_(_ids), _shown.kind == "like")
                ),
                Notification.id <= bindparam("top", type_=Integer),
            ),
        ),
        Notification.read_at.is_(None),
        Notification.withdrawn_at.is_(None),
    )
    .values(read_at=bindparam("now", type_=UTCDateTime()))
    .returning(Notification.id)
)
# events.publish: the event the viewer's other pages hear ("read": their count changed).
PUBLISH = Statement(
    "INSERT INTO events (kind, user_id, created_at) VALUES ($1, $2, $3) RETURNING id",
    ("kind", "user", "now"),
    {},
)
NOTIFY = compiled(events.NOTIFY)  # prefix, id: the channel of the tables' schema
