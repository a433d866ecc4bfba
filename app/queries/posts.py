"""Posts: one post, pages of posts (explore, profiles), writing and deleting.

The page statements here are shared by the home timeline (timeline.py): a subquery picks the
ids of one page, `page_of` loads those posts with their authors and comment counts.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, bindparam, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from app import text
from app.clock import utcnow
from app.db import UTCDateTime
from app.models import Comment, Post, PostTag, User
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events, notifications, tags, users

NEWEST_FIRST = (Post.created_at.desc(), Post.id.desc())
# The keyset condition of every page of posts: strictly older than the cursor.
BEFORE_CURSOR = tuple_(Post.created_at, Post.id) < tuple_(
    bindparam("before_at", type_=UTCDateTime()), bindparam("before_id", type_=Integer)
)


class FeedItem(NamedTuple):
    post: Post
    comment_count: int


_comment_count = (
    select(func.count(Comment.id)).where(Comment.post_id == Post.id).correlate(Post)
).scalar_subquery()


def page_of(ids: Any) -> Select[Any]:
    """Load the posts named by a subquery of ids, with authors and comment counts, in one go."""
    return (
        select(Post, _comment_count)
        .join(ids, Post.id == ids.c.id)
        .join(Post.author)
        .options(contains_eager(Post.author))
        .order_by(*NEWEST_FIRST)
    )


def keyset(*conditions: Any) -> Select[Any]:
    """The ids of one page of posts matching `conditions`, newest first."""
    return select(Post.id).where(*conditions, BEFORE_CURSOR).order_by(*NEWEST_FIRST).limit(FETCH)


# Everyone's posts, newest first: explore, and the anonymous front page.
EXPLORE = page_of(keyset().subquery("ids"))

# One author's posts: profiles.
BY_AUTHOR = page_of(keyset(Post.author_id == bindparam("author")).subquery("ids"))

# One tag's posts: its page. The ids come from post_tags alone (tag, time, id: one index range).
TAGGED = page_of(
    select(PostTag.post_id.label("id"))
    .where(
        PostTag.tag == bindparam("tag"),
        tuple_(PostTag.created_at, PostTag.post_id)
        < tuple_(
            bindparam("before_at", type_=UTCDateTime()), bindparam("before_id", type_=Integer)
        ),
    )
    .order_by(PostTag.created_at.desc(), PostTag.post_id.desc())
    .limit(FETCH)
    .subquery("ids")
)


async def feed(
    session: AsyncSession, stmt: Select[Any], cursor: Cursor, **params: Any
) -> Page[FeedItem]:
    """Run a page statement built by `page_of` from `cursor` on."""
    params |= {"before_at": cursor.at, "before_id": cursor.id}
    rows = [FeedItem(post, count) for post, count in await session.execute(stmt, params)]
    return cut(rows, lambda item: Cursor(item.post.created_at, item.post.id))


async def explore(session: AsyncSession, cursor: Cursor = FIRST) -> Page[FeedItem]:
    return await feed(session, EXPLORE, cursor)


async def user_posts(session: AsyncSession, user_id: int, cursor: Cursor = FIRST) -> Page[FeedItem]:
    return await feed(session, BY_AUTHOR, cursor, author=user_id)


async def tagged_posts(session: AsyncSession, key: str, cursor: Cursor = FIRST) -> Page[FeedItem]:
    """The posts with the tag whose key (app/text.py: tag_key) is `key`, newest first."""
    return await feed(session, TAGGED, cursor, tag=key)


async def get_post(session: AsyncSession, post_id: int) -> FeedItem | None:
    stmt = (
        select(Post, _comment_count)
        .join(Post.author)
        .options(contains_eager(Post.author))
        .where(Post.id == post_id)
    )
    row = (await session.execute(stmt)).first()
    return FeedItem(row[0], row[1]) if row else None


async def create_post(session: AsyncSession, author: User, body: str) -> Post:
    """The new post, with `author` set for rendering but not added to this session. Its tags
    are stored; the people it mentions are notified; followers' open timelines hear of it."""
    now = utcnow()
    post = Post(author_id=author.id, body=body, created_at=now)
    session.add(post)
    await session.flush()
    set_committed_value(post, "author", author)
    await tags.set_post_tags(session, post.id, body)
    mentioned = await users.ids_of_names(session, text.mentioned([body]))
    await notifications.posted(session, post, mentioned, now)
    await events.publish(session, "post", actor_id=author.id, post_id=post.id)
    return post


async def delete_post(session: AsyncSession, post_id: int) -> None:
    """Its comments, tags and notifications go with it: ON DELETE CASCADE (SQLite's engine turns
    foreign keys on)."""
    await session.execute(delete(Post).where(Post.id == post_id))
