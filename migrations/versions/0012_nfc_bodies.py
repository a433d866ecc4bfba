"""Compose the text of the posts there are (NFC), as Warble now stores what people type.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 12:00:00

Both full-text indexes compare code points: a body typed with a combining accent ("cafe" and
U+0301) was not found by "café". app/text.py's clean() now composes everything it keeps; this
composes the bodies stored before, which updates their index entries (SQLite's triggers,
PostgreSQL's generated column). Only changed rows are written; there is nothing to undo (a
composed body reads the same), so the downgrade leaves them.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5_000


def upgrade() -> None:
    """Read the posts in batches of ids; write back the bodies that composing changes."""
    connection = op.get_bind()
    select = sa.text("SELECT id, body FROM posts WHERE id > :after ORDER BY id LIMIT :n")
    update = sa.text("UPDATE posts SET body = :body WHERE id = :id")
    after = 0
    while rows := connection.execute(select, {"after": after, "n": BATCH}).all():
        changed = [
            {"id": post_id, "body": unicodedata.normalize("NFC", body)}
            for post_id, body in rows
            if not unicodedata.is_normalized("NFC", body)
        ]
        if changed:
            connection.execute(update, changed)
        after = rows[-1][0]


def downgrade() -> None:
    pass
