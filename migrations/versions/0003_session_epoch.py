"""Add users.session_epoch: a password change ends every session.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:22:44.538663
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
    if op.get_context().dialect.name == "sqlite":
        # SQLite rebuilds the table to drop a column, and the rebuild cannot carry expression
        # indexes over (SQLAlchemy cannot reflect them): put them back.
        op.create_index(
            "ix_users_lower_username", "users", [sa.text("lower(username)")], unique=True
        )
        op.create_index("ix_users_lower_email", "users", [sa.text("lower(email)")], unique=True)
