"""When each Atom feed last changed: its Last-Modified (app/blueprints/atom.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app/models.py; a migration never imports the app
FEED_KEY_MAX = 100 + 8


def upgrade() -> None:
    op.create_table(
        "feed_versions",
        sa.Column("feed", sa.String(FEED_KEY_MAX), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_versions")),
    )


def downgrade() -> None:
    op.drop_table("feed_versions")
