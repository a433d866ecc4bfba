"""Warble's schema as typed ORM classes: no I/O and no queries here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import Base, UTCDateTime

USERNAME_MIN, USERNAME_MAX = 3, 30
ABOUT_MAX = 280
EMAIL_MAX = 254


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    # NFKC + casefold of email (app/text.py:normalize_email): "Ärger@x" and "ärger@x" are
    # one address on every database, where lower() is ASCII-only on SQLite.
    email_normalized: Mapped[str] = mapped_column(String(EMAIL_MAX * 3))
    password_hash: Mapped[str] = mapped_column(String(255))
    about_me: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # "Susan" and "susan" are the same person: uniqueness ignores case.
        Index("ix_users_lower_username", func.lower(username), unique=True),
        Index("ix_users_email_normalized", email_normalized, unique=True),
        CheckConstraint(
            f"length(username) BETWEEN {USERNAME_MIN} AND {USERNAME_MAX}", name="username_length"
        ),
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"


USER_AGENT_MAX = 255
POST_MAX = 500
COMMENT_MAX = 500


class Follow(Base):
    """An edge of the social graph: follower_id follows followed_id."""

    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followed_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("follower_id <> followed_id", name="not_self"),
        # "Who follows X?" (follower lists and counts) reads this instead of the table.
        Index("ix_follows_followed_id_follower_id", "followed_id", "follower_id"),
    )


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the current text was written, if it is not the first: the earlier ones are in
    # post_edits.
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User] = relationship(lazy="raise", innerjoin=True)

    __table_args__ = (
        # A user's posts newest first (profiles, and the per-author probes of the home timeline).
        Index("ix_posts_author_id_created_at_id", "author_id", created_at.desc(), id.desc()),
        # Every post newest first (explore, and the home timeline of people who follow many).
        Index("ix_posts_created_at_id", created_at.desc(), id.desc()),
        CheckConstraint(f"length(body) BETWEEN 1 AND {POST_MAX}", name="body_length"),
    )


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    # Nullable on purpose: imported or older comments may have no author or no time.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_comments_post_id_created_at_id", "post_id", "created_at", "id"),
        CheckConstraint(f"length(body) BETWEEN 1 AND {COMMENT_MAX}", name="body_length"),
    )


class Like(Base):
    """user_id likes post_id: one row per person and post, whatever the clicks and races."""

    __tablename__ = "likes"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The primary key (post_id, user_id) counts a post's likes and finds the viewer's;
        # this one lists who liked a post, newest first (keyset on created_at, user_id).
        Index("ix_likes_post_id_created_at_user_id", "post_id", created_at.desc(), user_id.desc()),
        # A user's likes: deleting the user deletes them without reading the whole table.
        Index("ix_likes_user_id", "user_id"),
    )


class PostEdit(Base):
    """An earlier version of a post: the text it had, and when that text was written (the
    post's created_at for the first version, the edit's time for later ones). The current
    text is the post's own body, written at its edited_at."""

    __tablename__ = "post_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # A post's versions newest first (its history page, keyset on created_at, id).
        Index("ix_post_edits_post_id_created_at_id", "post_id", created_at.desc(), id.desc()),
        CheckConstraint(f"length(body) BETWEEN 1 AND {POST_MAX}", name="body_length"),
    )


class UserSession(Base):
    """One login: the session cookie names it by a random token, of which only the hash is
    stored. Deleting the row ends the session on every worker and host."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the cookie's token, hex
    remember: Mapped[bool] = mapped_column(default=False)
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Idle sessions: last use + SESSION_IDLE_HOURS; "remember me": login + REMEMBER_DAYS.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="raise", innerjoin=True)

    __table_args__ = (
        Index("ix_user_sessions_token_hash", "token_hash", unique=True),
        # A user's sessions, newest use first (the settings list; ending them all).
        Index("ix_user_sessions_user_id_last_used_at", "user_id", last_used_at.desc()),
    )


class Notification(Base):
    """Something that happened to a user: someone followed them, commented on their post,
    mentioned them, liked their post. A kind is a row's value, not a table."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # follow, comment, mention, like
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # What it is about; deleting the post or comment deletes its notifications.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A follow that was undone: hidden and not counted. Following again within the hour
    # brings this row back instead of making a second one.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User] = relationship(foreign_keys=[actor_id], lazy="raise", innerjoin=True)

    __table_args__ = (
        # A user's notifications newest first (the page, keyset on created_at, id).
        Index(
            "ix_notifications_recipient_id_created_at_id",
            "recipient_id",
            created_at.desc(),
            id.desc(),
        ),
        # Their unread ones: what the navigation counts on every page.
        Index(
            "ix_notifications_unread",
            "recipient_id",
            postgresql_where=text("read_at IS NULL AND withdrawn_at IS NULL"),
            sqlite_where=text("read_at IS NULL AND withdrawn_at IS NULL"),
        ),
        Index("ix_notifications_actor_id", "actor_id"),
        Index("ix_notifications_post_id", "post_id"),
        # The likes of a post, shown as one line ("alice and 3 others liked your post"):
        # the newest of each post's group and the size of the group.
        Index(
            "ix_notifications_likes",
            "post_id",
            "id",
            postgresql_where=text("kind = 'like' AND withdrawn_at IS NULL"),
            sqlite_where=text("kind = 'like' AND withdrawn_at IS NULL"),
        ),
        Index("ix_notifications_comment_id", "comment_id"),
    )


class Event(Base):
    """What the live streams hear about, in commit order of ids: one row per change (a post,
    a comment, a follow, a notification...), not one per listener. Ids only: each worker
    loads what it renders, with the permission checks of a page. Kept for a day, so a stream
    that reconnects resumes from its Last-Event-ID."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None]
    user_id: Mapped[int | None]  # whose it is: a notification's recipient, the followed user
    post_id: Mapped[int | None]
    comment_id: Mapped[int | None]
    session_id: Mapped[int | None]  # an ended session
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_events_created_at", "created_at"),)
