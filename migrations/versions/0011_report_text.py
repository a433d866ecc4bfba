"""Reports keep what the reported post or comment said: the evidence outlives an edit, or its
author deleting it. Reports made before keep the text there is now.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("reported_text", sa.Text(), nullable=True))
    op.execute(
        "UPDATE reports SET reported_text = "
        "(SELECT body FROM posts WHERE posts.id = reports.post_id) WHERE post_id IS NOT NULL"
    )
    op.execute(
        "UPDATE reports SET reported_text = "
        "(SELECT body FROM comments WHERE comments.id = reports.comment_id) "
        "WHERE comment_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("reported_text")
