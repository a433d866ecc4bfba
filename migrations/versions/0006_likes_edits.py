"""Likes, and edited posts with their earlier versions.

likes: one row per person and post. post_edits: a post's earlier texts, each with the time
it was written; posts.edited_at: when the current text was. A partial index on notifications
finds the likes of a post, which the notifications page shows as one line.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POST_MAX = 500  # app/models.py; a migration never imports the app
LIKES = sa.text("kind = 'like' AND withdrawn_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "likes",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_likes_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_likes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_likes")),
    )
    op.create_index(
        "ix_likes_post_id_created_at_user_id",
        "likes",
        ["post_id", sa.text("created_at DESC"), sa.text("user_id DESC")],
    )
    op.create_index("ix_likes_user_id", "likes", ["user_id"])

    op.create_table(
        "post_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"length(body) BETWEEN 1 AND {POST_MAX}", name=op.f("ck_post_edits_body_length")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_edits_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_edits")),
    )
    op.create_index(
        "ix_post_edits_post_id_created_at_id",
        "post_edits",
        ["post_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )

    # A nullable column: SQLite adds it in place (no table rebuild), PostgreSQL without a rewrite.
    op.add_column("posts", sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))

    op.create_index(
        "ix_notifications_likes",
        "notifications",
        ["post_id", "id"],
        postgresql_where=LIKES,
        sqlite_where=LIKES,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_likes", table_name="notifications")
    # SQLite 3.35+ drops a column in place; a batch rebuild of posts would not be needed.
    op.drop_column("posts", "edited_at")
    op.drop_index("ix_post_edits_post_id_created_at_id", table_name="post_edits")
    op.drop_table("post_edits")
    op.drop_index("ix_likes_user_id", table_name="likes")
    op.drop_index("ix_likes_post_id_created_at_user_id", table_name="likes")
    op.drop_table("likes")
