"""Hashtags (post_tags) and full-text search over posts, both filled from the posts there are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 23:30:00

The search objects are created by hand (app/models.py: SEARCH_DDL says why they live beside
the ORM); the statements are copied here, as they were at this revision. On PostgreSQL, adding
the generated column rewrites the posts table once (about a minute at 5 million posts).
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAG_MAX = 100
BATCH = 5_000

# -- what a hashtag was at this revision (app/text.py then); a migration never imports the app,
# whose rules may change after it: a frozen copy of hashtags() and what it needs.
INVISIBLE = (
    r"\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u17b4-\u17b5"
    r"\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff"
    r"\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
URL_RE = re.compile(rf"https?://[^\s<>\"'{INVISIBLE}]+", re.IGNORECASE)
BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
TAG_BLOCKED_AFTER = "&/#"


def tag_key(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def is_tag_char(char: str) -> bool:
    return char == "_" or char.isalnum() or unicodedata.category(char)[0] == "M"


def is_tag(name: str) -> bool:
    return (
        0 < len(name) <= TAG_MAX
        and all(is_tag_char(c) for c in name)
        and any(c.isalpha() for c in name)
        and len(tag_key(name)) <= TAG_MAX
    )


def hashtags(body: str) -> list[tuple[str, str]]:
    """The distinct (key, display) tags of a body in order of appearance, as first written."""
    body = BIDI.sub("", body)
    urls = [m.span() for m in URL_RE.finditer(body)]
    found: dict[str, tuple[str, str]] = {}
    for match in re.finditer("#", body):
        start = match.start()
        if start and (is_tag_char(body[start - 1]) or body[start - 1] in TAG_BLOCKED_AFTER):
            continue
        if any(low <= start < high for low, high in urls):
            continue
        end = start + 1
        while end < len(body) and is_tag_char(body[end]):
            end += 1
        display = body[start + 1 : end]
        if is_tag(display):
            found.setdefault(tag_key(display), (tag_key(display), display))
    return list(found.values())


SEARCH_DDL = {
    "postgresql": [
        "ALTER TABLE posts ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(to_tsvector('simple'::regconfig, translate(body, '@./:-<>&', '        '))) STORED",
        "CREATE INDEX ix_posts_search ON posts USING gin (search)",
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
        # Index the posts already there (the triggers only see what comes next).
        "INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')",
    ],
}
SEARCH_DROP = {
    "postgresql": [
        "DROP INDEX ix_users_lower_username_prefix",
        "DROP INDEX ix_posts_search",
        "ALTER TABLE posts DROP COLUMN search",
    ],
    "sqlite": [
        "DROP TRIGGER posts_fts_update",
        "DROP TRIGGER posts_fts_delete",
        "DROP TRIGGER posts_fts_insert",
        "DROP TABLE posts_fts",
    ],
}


def upgrade() -> None:
    tag_type = sa.String(length=TAG_MAX).with_variant(
        sa.String(length=TAG_MAX, collation="C"), "postgresql"
    )
    op.create_table(
        "post_tags",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("tag", tag_type, nullable=False),
        sa.Column("display", sa.String(length=TAG_MAX), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_tags_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "tag", name=op.f("pk_post_tags")),
    )
    op.create_index(
        "ix_post_tags_tag_created_at_post_id",
        "post_tags",
        ["tag", sa.text("created_at DESC"), sa.text("post_id DESC")],
    )
    op.create_index("ix_post_tags_created_at", "post_tags", ["created_at"])
    backfill_tags()
    for statement in SEARCH_DDL[op.get_bind().dialect.name]:
        op.execute(statement)


def backfill_tags() -> None:
    """The tags of every post there is, as app/queries/tags.py would have written them: read in
    batches of ids, only posts with a "#" in them; author and time copied in SQL."""
    connection = op.get_bind()
    select = sa.text(
        "SELECT id, body FROM posts WHERE id > :after AND body LIKE '%#%' ORDER BY id LIMIT :n"
    )
    insert = sa.text(
        "INSERT INTO post_tags (post_id, tag, display, author_id, created_at) "
        "SELECT id, :tag, :display, author_id, created_at FROM posts WHERE id = :post_id"
    )
    after = 0
    while rows := connection.execute(select, {"after": after, "n": BATCH}).all():
        found = [
            {"post_id": post_id, "tag": key, "display": display}
            for post_id, body in rows
            for key, display in hashtags(body)
        ]
        if found:
            connection.execute(insert, found)
        after = rows[-1][0]


def downgrade() -> None:
    for statement in SEARCH_DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index("ix_post_tags_created_at", table_name="post_tags")
    op.drop_index("ix_post_tags_tag_created_at_post_id", table_name="post_tags")
    op.drop_table("post_tags")
