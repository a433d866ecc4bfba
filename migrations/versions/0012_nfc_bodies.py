"""Compose the text of the posts there are (NFC), as Warble now stores what people type, and
what reports quoted of them.

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
    _compose("posts", "body")
    # What a report quoted (0011 copied it from the posts and comments as they were), so that
    # /admin does not take the composed post for an edited one.
    _compose("reports", "reported_text")


def _compose(table: str, column: str) -> None:
    """Read the rows in batches of ids; write back the texts that composing changes."""
    connection = op.get_bind()
    rows_of = sa.table(table, sa.column("id"), sa.column(column))
    text_of = rows_of.c[column]
    select = (
        sa.select(rows_of.c.id, text_of)
        .where(rows_of.c.id > sa.bindparam("after"), text_of.is_not(None))
        .order_by(rows_of.c.id)
        .limit(BATCH)
    )
    update = (
        sa.update(rows_of)
        .where(rows_of.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam("text")})
    )
    after = 0
    while rows := connection.execute(select, {"after": after}).all():
        changed = [
            {"row_id": row_id, "text": unicodedata.normalize("NFC", text)}
            for row_id, text in rows
            if not unicodedata.is_normalized("NFC", text)
        ]
        if changed:
            connection.execute(update, changed)
        after = rows[-1][0]


def downgrade() -> None:
    pass
