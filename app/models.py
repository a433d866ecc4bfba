"""Warble's schema as typed ORM classes: no I/O and no queries here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    event,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import Base, UTCDateTime
from app.text import TAG_MAX

USERNAME_MIN, USERNAME_MAX = 3, 30
ABOUT_MAX = 280
EMAIL_MAX = 254
ROLES = ("user", "moderator", "admin")  # in order of power; app/moderation.py decides with them
SIGNUP_REASON_MAX = 500


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
    # Moderation (docs/moderation.md). role: one of ROLES. approved: false while an account
    # made under REGISTRATION=approval waits for a moderator (it cannot log in), with the
    # applicant's reason. suspended_at: set while suspended (cannot log in, content hidden).
    role: Mapped[str] = mapped_column(String(20), default="user", server_default="user")
    approved: Mapped[bool] = mapped_column(default=True, server_default=true())
    signup_reason: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # "Susan" and "susan" are the same person: uniqueness ignores case.
        Index("ix_users_lower_username", func.lower(username), unique=True),
        Index("ix_users_email_normalized", email_normalized, unique=True),
        CheckConstraint(
            f"length(username) BETWEEN {USERNAME_MIN} AND {USERNAME_MAX}", name="username_length"
        ),
        # The few accounts that are suspended, waiting, or moderate: what /admin and the
        # visibility rules read, without scanning everyone.
        Index(
            "ix_users_suspended_at",
            "suspended_at",
            postgresql_where=text("suspended_at IS NOT NULL"),
            sqlite_where=text("suspended_at IS NOT NULL"),
        ),
        Index(
            "ix_users_waiting",
            "created_at",
            postgresql_where=text("NOT approved"),
            sqlite_where=text("NOT approved"),
        ),
        Index(
            "ix_users_staff",
            "role",
            postgresql_where=text("role <> 'user'"),
            sqlite_where=text("role <> 'user'"),
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


# Search lives beside the ORM, which never loads it: app/queries/search.py reads it, migration
# 0007 creates it, migrations/env.py keeps autogenerate off it (alembic sees expression indexes
# as changed whatever they are: sqlalchemy/alembic#1390).
# - PostgreSQL: a stored generated tsvector column and a GIN index. The 'simple' configuration
#   (lower case, no stemming, accents kept); translate() turns the punctuation that makes the
#   parser see one e-mail, host, URL, path, version number, signed number or XML tag into
#   spaces, so that its words are the words SQLite's tokenizer finds ("bob@example.org" is
#   bob, example, org on both).
# - SQLite: an FTS5 table over posts.body (external content: no second copy of the text),
#   kept in step by triggers; unicode61 without removing diacritics, as on PostgreSQL.
SEARCH_DDL = {
    "postgresql": [
        "ALTER TABLE posts ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(to_tsvector('simple'::regconfig, translate(body, '@./:-<>&', '        '))) STORED",
        "CREATE INDEX ix_posts_search ON posts USING gin (search)",
        # Names by prefix: a range of lower(username) in code point order. SQLite's
        # ix_users_lower_username is one already (BINARY); PostgreSQL's compares in the
        # database's collation, where "a_b" may sort outside ["a_", "a`"), hence "C" here.
        'CREATE INDEX ix_users_lower_username_prefix ON users (lower(username) COLLATE "C")',
    ],
    "sqlite": [
        "CREATE VIRTUAL TABLE posts_fts USING fts5(body, content='posts', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 0')",
        "CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN "
        "INSERT INTO posts_fts (rowid, body) VALUES (new.id, new.body); END",
        "CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN "
        "INSERT INTO posts_fts (posts_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
        "CREATE TRIGGER posts_fts_update AFTER UPDATE OF body ON posts BEGIN "
        "INSERT INTO posts_fts (posts_fts, rowid, body) VALUES ('delete', old.id, old.body); "
        "INSERT INTO posts_fts (rowid, body) VALUES (new.id, new.body); END",
    ],
}
# What autogenerate must not see as drift (migrations/env.py: include_object).
SEARCH_OBJECTS = {
    "column": {("posts", "search")},
    "index": {"ix_posts_search", "ix_users_lower_username_prefix"},
}
SEARCH_TABLE = "posts_fts"  # and its shadow tables, posts_fts_data, _idx, _docsize, _config


def _ddl(statement: str, dialect: str) -> Any:
    """A DDL statement that runs on one dialect only (sqlalchemy.DDL carries no types)."""
    return DDL(statement).execute_if(dialect=dialect)  # type: ignore[no-untyped-call]


for _dialect, _statements in SEARCH_DDL.items():
    for _statement in _statements:
        event.listen(Post.__table__, "after_create", _ddl(_statement, _dialect))
event.listen(Post.__table__, "before_drop", _ddl(f"DROP TABLE IF EXISTS {SEARCH_TABLE}", "sqlite"))


class PostTag(Base):
    """A hashtag of a post: written with the post, rewritten when its text changes
    (app/queries/tags.py: set_post_tags), gone with it; never parsed again when read."""

    __tablename__ = "post_tags"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    # app/text.py: tag_key (NFKC + casefold). Ordered by code point on both databases (SQLite's
    # BINARY; collation "C" on PostgreSQL), so the tags starting with a prefix are one range.
    tag: Mapped[str] = mapped_column(
        String(TAG_MAX).with_variant(String(TAG_MAX, collation="C"), "postgresql"),
        primary_key=True,
    )
    display: Mapped[str] = mapped_column(String(TAG_MAX))  # as this post writes it
    # The post's author and time, copied: a tag's timeline and the trending tags read this
    # table alone. No foreign key of its own: the row goes with its post.
    author_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # A tag's posts newest first (its timeline; its first use, read backwards), and the
        # distinct tags from a prefix (search).
        Index("ix_post_tags_tag_created_at_post_id", "tag", created_at.desc(), post_id.desc()),
        # The last 24 hours of tags (trending on Explore).
        Index("ix_post_tags_created_at", "created_at"),
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
    kind: Mapped[str] = mapped_column(String(20))  # follow, comment, mention, like, report, signup
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # What it is about; deleting the post or comment deletes its notifications.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    # kind "report": the report a moderator is told about (kind "signup": the actor waits).
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
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
        Index("ix_notifications_report_id", "report_id"),
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


class Block(Base):
    """blocker_id blocks blocked_id: neither sees the other's posts or comments, and the
    blocked one cannot follow, comment on, like or mention the blocker
    (app/queries/visibility.py)."""

    __tablename__ = "blocks"

    blocker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
        # "Who blocks X?": the other direction of the visibility rule, and the cascade.
        Index("ix_blocks_blocked_id_blocker_id", "blocked_id", "blocker_id"),
    )


class Mute(Base):
    """muter_id mutes muted_id: the muted one's posts and comments leave the muter's timelines
    and notifications; the muted one notices nothing."""

    __tablename__ = "mutes"

    muter_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    muted_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("muter_id <> muted_id", name="not_self"),
        Index("ix_mutes_muted_id", "muted_id"),
    )


REPORT_REASONS = ("spam", "abuse", "illegal", "other")
REPORT_COMMENT_MAX = 1000


class Report(Base):
    """Someone asks the moderators to look at an account, or at one of its posts or comments.
    Open until a moderator resolves it (dismissed, or the action they took)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The reported account: the author, for a post or a comment.
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Gone with what they name; the report stays, and the moderation log keeps the text.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(20))  # one of REPORT_REASONS
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    # What the post or comment said when it was reported: the evidence outlives an edit or
    # its author deleting it. None for a report about an account.
    reported_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(20))  # dismissed, or an action

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id], lazy="raise")
    account: Mapped[User] = relationship(foreign_keys=[account_id], lazy="raise", innerjoin=True)

    __table_args__ = (
        # The open reports, oldest first (/admin).
        Index(
            "ix_reports_open",
            "created_at",
            "id",
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
        Index("ix_reports_account_id", "account_id"),
        Index("ix_reports_reporter_id", "reporter_id"),
        Index("ix_reports_post_id", "post_id"),
        Index("ix_reports_comment_id", "comment_id"),
        Index("ix_reports_resolved_by_id", "resolved_by_id"),
        CheckConstraint(f"length(comment) <= {REPORT_COMMENT_MAX}", name="comment_length"),
    )


class ModerationAction(Base):
    """The moderation log (/admin/log): who did what to whom, when and why. Names and text are
    copied, so the line still reads after the account or post is deleted."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderator_name: Mapped[str] = mapped_column(String(USERNAME_MAX))  # or "command line"
    # dismiss, delete_post, delete_comment, suspend, unsuspend, delete_account, approve,
    # reject, role
    action: Mapped[str] = mapped_column(String(30))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    account_name: Mapped[str] = mapped_column(String(USERNAME_MAX))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")  # e.g. the text
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_moderation_actions_created_at_id", created_at.desc(), id.desc()),
        Index("ix_moderation_actions_moderator_id", "moderator_id"),
        Index("ix_moderation_actions_account_id", "account_id"),
        Index("ix_moderation_actions_report_id", "report_id"),
    )


INVITE_CODE_LENGTH = 12


class Invite(Base):
    """A sign-up code for REGISTRATION=invite: its link works max_uses times (None: no
    limit) until expires_at (None: never)."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_invites_code", "code", unique=True),
        Index("ix_invites_creator_id_created_at", "creator_id", created_at.desc()),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
    )


# The client API's OAuth 2 (docs/api.md). Secrets, codes and tokens are random strings of which
# only the SHA-256 is stored, as for session tokens (app/sessions.py): a copy of the database
# opens nothing. The client secret too: a client is shown it once, when it registers
# (POST /api/v1/apps), and only ever sends it back, so nothing needs its clear text.
APP_NAME_MAX = 100
WEBSITE_MAX = 255
SCOPES_MAX = 255
REDIRECT_URIS_MAX = 2000
IDEMPOTENCY_KEY_MAX = 255
FEED_KEY_MAX = TAG_MAX + 8  # "tag:" and a tag's key, or "user:" and an id


class OAuthApp(Base):
    """A client application registered through POST /api/v1/apps (anyone may register one)."""

    __tablename__ = "oauth_apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))  # public: in every authorize URL
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(APP_NAME_MAX))
    redirect_uris: Mapped[str] = mapped_column(Text)  # one per line, compared exactly
    scopes: Mapped[str] = mapped_column(String(SCOPES_MAX))  # space-separated
    website: Mapped[str | None] = mapped_column(String(WEBSITE_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_oauth_apps_client_id", "client_id", unique=True),)


class OAuthCode(Base):
    """An authorization code: given to the app's redirect URI once the user consents, traded
    for a token once (the trade deletes it), within ten minutes, with the same redirect URI and
    (PKCE) the verifier of its challenge."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[int] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(SCOPES_MAX))
    code_challenge: Mapped[str | None] = mapped_column(String(128))  # S256, base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_oauth_codes_code_hash", "code_hash", unique=True),
        Index("ix_oauth_codes_app_id", "app_id"),
        Index("ix_oauth_codes_user_id", "user_id"),
    )


class OAuthToken(Base):
    """An access token: a user's grant to an app, or (user_id NULL) the app's own token from
    the client_credentials grant. Revoking deletes the row; so do a password change and the
    user's "Revoke" in Settings → Authorized apps."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[int] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(String(SCOPES_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most every few minutes (app/api/auth.py: TOUCH_EVERY), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    app: Mapped[OAuthApp] = relationship(lazy="raise", innerjoin=True)

    __table_args__ = (
        Index("ix_oauth_tokens_token_hash", "token_hash", unique=True),
        # A user's grants by app (Settings → Authorized apps; revoking one app's tokens).
        Index("ix_oauth_tokens_user_id_app_id", "user_id", "app_id"),
        Index("ix_oauth_tokens_app_id", "app_id"),
    )


class IdempotencyKey(Base):
    """POST /api/v1/statuses with an Idempotency-Key: the post it made, so that the same key
    from the same user makes no second post (a client retrying after a lost answer). Kept an
    hour, as Mastodon does; gone with the post."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_idempotency_keys_post_id", "post_id"),)


class FeedVersion(Base):
    """When each Atom feed last changed (app/blueprints/atom.py): the first time it was served
    with its current ETag. Its Last-Modified, which the newest entry's time cannot be (a deleted
    post or a suspended author takes entries out and leaves no time behind). Written only when
    a feed is served changed."""

    __tablename__ = "feed_versions"

    feed: Mapped[str] = mapped_column(String(FEED_KEY_MAX), primary_key=True)  # user:ID, tag:KEY
    etag: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
