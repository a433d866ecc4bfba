"""Posts: one post, pages of posts (explore, profiles), writing, editing and deleting.

The page statements here are shared by the home timeline (timeline.py): a subquery picks the
ids of one page, `page_of` loads those posts with their authors, comment and like counts and
whether the viewer liked each, in one statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, bindparam, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from app import text
from app.clock import utcnow
from app.db import UTCDateTime
from app.models import Comment, Post, PostEdit, PostTag, User
from app.pagination import FETCH, FIRST, Cursor, Page, cut
from app.queries import events, notifications, tags, users, visibility
from app.queries.likes import like_count_of, liked_by_viewer

NEWEST_FIRST = (Post.created_at.desc(), Post.id.desc())
# The keyset condition of every page of posts: strictly older than the cursor.
BEFORE_CURSOR = tuple_(Post.created_at, Post.id) < tuple_(
    bindparam("before_at", type_=UTCDateTime()), bindparam("before_id", type_=Integer)
)


class FeedItem(NamedTuple):
    post: Post
    comment_count: int
    like_count: int = 0
    liked: bool = False  # by the viewer


_comment_count = (
    select(func.count(Comment.id)).where(Comment.post_id == Post.id).correlate(Post)
).scalar_subquery()


# What a post shows beside itself, for the `viewer` parameter of its statement.
_counts = (_comment_count, like_count_of(Post.id), liked_by_viewer(Post.id))


def page_of(ids: Any) -> Select[Any]:
    """Load the posts named by a subquery of ids, with authors, comment and like counts and
    the viewer's like, in one go."""
    return (
        select(Post, *_counts)
        .join(ids, Post.id == ids.c.id)
        .join(Post.author)
        .options(contains_eager(Post.author))
        .order_by(*NEWEST_FIRST)
    )


def keyset(*conditions: Any) -> Select[Any]:
    """The ids of one page of posts matching `conditions`, newest first."""
    return select(Post.id).where(*conditions, BEFORE_CURSOR).order_by(*NEWEST_FIRST).limit(FETCH)


# What each page of posts selects; both directions below read the same conditions, so a rule
# added to one page reaches its forwards twin (the client API's min_id) too.
# Everyone's posts, but those the viewer does not see (blocks either way, their mutes,
# suspended authors: app/queries/visibility.py): explore, and the anonymous front page.
_EVERYONE = (visibility.shown(Post.author_id),)
# One author's posts: profiles (a muted author's own page still shows them).
_BY_AUTHOR = (Post.author_id == bindparam("author"), visibility.shown(Post.author_id, mutes=False))


def _tagged(*, forwards: bool = False) -> Any:
    """The ids of a tag's page, from post_tags alone (tag, time, id: one index range): newest
    first before the cursor, or oldest first right after it."""
    key = tuple_(PostTag.created_at, PostTag.post_id)
    if forwards:
        after = (bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=Integer))
        beyond, order = key > tuple_(*after), (PostTag.created_at.asc(), PostTag.post_id.asc())
    else:
        before = (
            bindparam("before_at", type_=UTCDateTime()),
            bindparam("before_id", type_=Integer),
        )
        beyond, order = key < tuple_(*before), (PostTag.created_at.desc(), PostTag.post_id.desc())
    return (
        select(PostTag.post_id.label("id"))
        .where(PostTag.tag == bindparam("tag"), visibility.shown(PostTag.author_id), beyond)
        .order_by(*order)
        .limit(FETCH)
        .subquery("ids")
    )


EXPLORE = page_of(keyset(*_EVERYONE).subquery("ids"))
BY_AUTHOR = page_of(keyset(*_BY_AUTHOR).subquery("ids"))
TAGGED = page_of(_tagged())


def items(rows: Any) -> list[FeedItem]:
    """The rows of a `page_of` statement."""
    return [FeedItem(post, comments, likes, bool(liked)) for post, comments, likes, liked in rows]


async def feed(
    session: AsyncSession,
    stmt: Select[Any],
    cursor: Cursor,
    viewer: int | None = None,
    **params: Any,
) -> Page[FeedItem]:
    """Run a page statement built by `page_of` from `cursor` on, for `viewer` (None: nobody)."""
    params |= {"before_at": cursor.at, "before_id": cursor.id, "viewer": viewer or 0}
    rows = items(await session.execute(stmt, params))
    return cut(rows, lambda item: Cursor(item.post.created_at, item.post.id))


async def explore(
    session: AsyncSession, cursor: Cursor = FIRST, *, viewer: int | None = None
) -> Page[FeedItem]:
    return await feed(session, EXPLORE, cursor, viewer)


async def user_posts(
    session: AsyncSession, user_id: int, cursor: Cursor = FIRST, *, viewer: int | None = None
) -> Page[FeedItem]:
    return await feed(session, BY_AUTHOR, cursor, viewer, author=user_id)


async def tagged_posts(
    session: AsyncSession, key: str, cursor: Cursor = FIRST, *, viewer: int | None = None
) -> Page[FeedItem]:
    """The posts with the tag whose key (app/text.py: tag_key) is `key`, newest first."""
    return await feed(session, TAGGED, cursor, viewer, tag=key)


class Found(NamedTuple):
    item: FeedItem
    blocked: bool  # the viewer and the author, either way
    suspended: bool  # the author


# Built once (a statement per call cost more to build than to run: docs/benchmarks.md).
FIND_POST = (
    select(
        Post,
        *_counts,
        visibility.blocked_either_way(Post.author_id),
        User.suspended_at.is_not(None),
    )
    .join(Post.author)
    .options(contains_eager(Post.author))
    .where(Post.id == bindparam("post_id"))
)


async def find_post(session: AsyncSession, post_id: int, *, viewer: int | None) -> Found | None:
    """The post with what the viewer may do with it (a hidden post's page is a 404; the
    blocked are refused a like or a comment with a 403 that says why), in one statement."""
    row = (await session.execute(FIND_POST, {"post_id": post_id, "viewer": viewer or 0})).first()
    if row is None:
        return None
    post, comments, likes, liked, blocked, suspended = row
    return Found(FeedItem(post, comments, likes, bool(liked)), bool(blocked), bool(suspended))


async def get_post(
    session: AsyncSession, post_id: int, *, viewer: int | None = None
) -> FeedItem | None:
    """The post, unless it is hidden from the viewer (blocked either way, author suspended;
    muting hides nothing here: the muter went looking)."""
    found = await find_post(session, post_id, viewer=viewer)
    if found is None or found.blocked or found.suspended:
        return None
    return found.item


async def create_post(session: AsyncSession, author: User, body: str) -> Post:
    """The new post, with `author` set for rendering but not added to this session. Its tags
    are stored; the people it mentions are notified; followers' open timelines hear of it."""
    now = utcnow()
    post = Post(author_id=author.id, body=body, created_at=now)
    session.add(post)
    await session.flush()
    set_committed_value(post, "author", author)
    await tags.set_post_tags(session, post.id, body)
    mentioned = await users.ids_of_names(session, text.mentioned([body]), unblocked=author.id)
    await notifications.posted(session, post, mentioned, now)
    await events.publish(session, "post", actor_id=author.id, post_id=post.id)
    return post


async def delete_post(session: AsyncSession, post_id: int) -> None:
    """Its comments, tags and notifications go with it: ON DELETE CASCADE (SQLite's engine turns
    foreign keys on)."""
    await session.execute(delete(Post).where(Post.id == post_id))


async def edit_post(session: AsyncSession, post_id: int, author_id: int, body: str) -> bool:
    """Give the post of `author_id` the text `body`, keeping the text it had in post_edits.
    False when there is no such post of theirs (deleted meanwhile).

    The first statement writes (it changes nothing, but locks the row on PostgreSQL and takes
    SQLite's write lock), so it reads the text that is current when no other edit can come
    between: two edits at once keep both earlier versions, one after the other.
    """
    lock = (
        update(Post)
        .where(Post.id == post_id, Post.author_id == author_id)
        .values(edited_at=Post.edited_at)
        .returning(Post.body, Post.created_at, Post.edited_at)
        .execution_options(synchronize_session=False)
    )
    current = (await session.execute(lock)).first()
    if current is None:
        return False
    previous, created_at, edited_at = current
    if previous == body:
        return True  # nothing changed: no version to keep
    now = utcnow()
    session.add(PostEdit(post_id=post_id, body=previous, created_at=edited_at or created_at))
    # The default synchronisation also updates the post if this session holds it already.
    await session.execute(update(Post).where(Post.id == post_id).values(body=body, edited_at=now))
    await rederive_from_body(session, post_id, author_id, previous, body, now)
    await events.publish(session, "edit", actor_id=author_id, post_id=post_id)
    return True


async def rederive_from_body(
    session: AsyncSession, post_id: int, author_id: int, previous: str, body: str, now: datetime
) -> None:
    """What is derived from an edited post's text, in the edit's transaction: the people it
    newly mentions are notified (never those its previous text mentioned, nor anyone this
    post has notified before); its hashtags are replaced (post_tags)."""
    new_names = text.mentioned([body]) - text.mentioned([previous])
    mentioned = await users.ids_of_names(session, new_names, unblocked=author_id)
    await notifications.mentioned_again(session, post_id, author_id, mentioned, now)
    await tags.set_post_tags(session, post_id, body)


async def history(session: AsyncSession, post_id: int, cursor: Cursor = FIRST) -> Page[PostEdit]:
    """The post's earlier versions, newest first."""
    stmt = (
        select(PostEdit)
        .where(
            PostEdit.post_id == post_id,
            tuple_(PostEdit.created_at, PostEdit.id) < (cursor.at, cursor.id),
        )
        .order_by(PostEdit.created_at.desc(), PostEdit.id.desc())
        .limit(FETCH)
    )
    rows = list(await session.scalars(stmt))
    return cut(rows, lambda edit: Cursor(edit.created_at, edit.id))


# -- right after a cursor (the client API's min_id) ---------------------------------------------
# The posts just newer than a cursor, oldest first in the subquery (PAGE_SIZE + 1 of them),
# shown newest first like every page: what a client catching up from the newest post it has
# asks for. The same indexes as the pages above, read forwards.
AFTER_CURSOR = tuple_(Post.created_at, Post.id) > tuple_(
    bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=Integer)
)


def keyset_after(*conditions: Any) -> Select[Any]:
    """The ids of the posts matching `conditions` right after the cursor, oldest first."""
    order = (Post.created_at.asc(), Post.id.asc())
    return select(Post.id).where(*conditions, AFTER_CURSOR).order_by(*order).limit(FETCH)


# The same pages as EXPLORE, BY_AUTHOR and TAGGED, read forwards.
EXPLORE_AFTER = page_of(keyset_after(*_EVERYONE).subquery("ids"))
BY_AUTHOR_AFTER = page_of(keyset_after(*_BY_AUTHOR).subquery("ids"))
TAGGED_AFTER = page_of(_tagged(forwards=True))


async def feed_after(
    session: AsyncSession, stmt: Select[Any], cursor: Cursor, viewer: int | None, **params: Any
) -> list[FeedItem]:
    """Run an `..._AFTER` statement: up to PAGE_SIZE + 1 posts right after `cursor`, newest
    first."""
    params |= {"after_at": cursor.at, "after_id": cursor.id, "viewer": viewer or 0}
    return items(await session.execute(stmt, params))
