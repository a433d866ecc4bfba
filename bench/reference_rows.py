"""What the reference pages' templates read: plain dataclasses, built from asyncpg rows."""

# The rows are those of bench/reference_sql.py's statements, whose columns are labelled
# table_column (users_username, posts_body...) as SQLAlchemy compiled them.

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.pagination import PAGE_SIZE, Cursor, Page, cut


@dataclass
class Account:
    id: int
    username: str
    email: str
    about_me: str = ""
    created_at: datetime | None = None
    last_seen_at: datetime | None = None
    suspended_at: datetime | None = None
    role: str = "user"


@dataclass
class Post:
    id: int
    author_id: int
    body: str
    created_at: datetime
    author: Account
    edited_at: datetime | None


@dataclass
class Item:
    post: Post
    comment_count: int
    like_count: int
    liked: bool


@dataclass
class Comment:
    id: int
    post_id: int
    author_id: int | None
    body: str
    created_at: datetime | None
    author: Account | None


@dataclass
class Notification:
    id: int
    kind: str
    actor_id: int
    actor: Account
    post_id: int | None
    comment_id: int | None
    report_id: int | None
    created_at: datetime
    read_at: datetime | None


@dataclass
class Notice:
    notification: Notification
    post_body: str | None
    comment_body: str | None
    others: int


def account(r: asyncpg.Record) -> Account:
    """The users_* columns of a row (an ORM statement's user)."""
    return Account(
        r["users_id"],
        r["users_username"],
        r["users_email"],
        r["users_about_me"],
        r["users_created_at"],
        r["users_last_seen_at"],
        r["users_suspended_at"],
        r["users_role"],
    )


def feed_item(r: asyncpg.Record) -> Item:
    """A row of posts.page_of: the post, its author, then comments, likes, liked."""
    post = Post(
        r["posts_id"],
        r["posts_author_id"],
        r["posts_body"],
        r["posts_created_at"],
        account(r),
        r["posts_edited_at"],
    )
    return Item(post, r["anon_1"], r["anon_2"], r["anon_3"])


def feed(rows: list[asyncpg.Record]) -> Page[Item]:
    return cut([feed_item(r) for r in rows], lambda i: Cursor(i.post.created_at, i.post.id))


def comment(r: asyncpg.Record) -> Comment:
    """A row of the comments statement (its author gone: none)."""
    author = account(r) if r["users_id"] is not None else None
    return Comment(
        r["comments_id"],
        r["comments_post_id"],
        r["comments_author_id"],
        r["comments_body"],
        r["comments_created_at"],
        author,
    )


def notice(r: asyncpg.Record) -> Notice:
    """A row of the notifications statement: who, what, and for a like the others."""
    notification = Notification(
        r["notifications_id"],
        r["notifications_kind"],
        r["notifications_actor_id"],
        account(r),
        r["notifications_post_id"],
        r["notifications_comment_id"],
        r["notifications_report_id"],
        r["notifications_created_at"],
        r["notifications_read_at"],
    )
    return Notice(notification, r["posts_1_body"], r["comments_1_body"], r["anon_1"])


def home_page(rows: list[asyncpg.Record]) -> Page[Item]:
    """The home page's rows (bench/reference.py: WIDE's columns, by position)."""
    items = [
        Item(Post(r[0], r[1], r[2], r[3], Account(r[4], r[5], r[6]), r[8]), r[7], r[9], r[10])
        for r in rows[:PAGE_SIZE]
    ]
    more = len(rows) > PAGE_SIZE
    last = items[-1].post if items else None
    return Page(items, Cursor(last.created_at, last.id) if more and last else None)
