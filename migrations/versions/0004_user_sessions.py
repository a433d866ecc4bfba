"""Server-side sessions (user_sessions) and email addresses compared in a normalised form.

A session cookie now names a user_sessions row, which logout deletes; users.session_epoch,
which could only end every session at once, goes. users.email_normalized (NFKC + casefold)
replaces the lower(email) index, which is ASCII-only on SQLite.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 17:50:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def normalize_email(email: str) -> str:
    """As app/text.py:normalize_email does it (a migration never imports the app)."""
    return unicodedata.normalize("NFKC", email).casefold()


def _restore_lower_username_index() -> None:
    # SQLite rebuilds the table in batch mode, and the rebuild cannot carry expression indexes
    # over (SQLAlchemy cannot reflect them): put it back.
    if op.get_context().dialect.name == "sqlite":
        op.create_index(
            "ix_users_lower_username", "users", [sa.text("lower(username)")], unique=True
        )


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    op.create_index("ix_user_sessions_token_hash", "user_sessions", ["token_hash"], unique=True)
    op.create_index(
        "ix_user_sessions_user_id_last_used_at",
        "user_sessions",
        ["user_id", sa.text("last_used_at DESC")],
    )

    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email_normalized", sa.String(length=762), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("email_normalized", sa.String),
    )
    connection = op.get_bind()
    taken: dict[str, int] = {}
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email)).all():
        normalized = normalize_email(email)
        if normalized in taken:
            raise RuntimeError(
                f"users {taken[normalized]} and {user_id} have the same email address once "
                f"compared without case ({email!r}): change one of them, then upgrade again"
            )
        taken[normalized] = user_id
        connection.execute(
            users.update().where(users.c.id == user_id).values(email_normalized=normalized)
        )
    op.drop_index("ix_users_lower_email", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("email_normalized", nullable=False)
        batch_op.drop_column("session_epoch")
    op.create_index("ix_users_email_normalized", "users", ["email_normalized"], unique=True)
    _restore_lower_username_index()


def downgrade() -> None:
    op.drop_index("ix_users_email_normalized", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email_normalized")
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_index("ix_users_lower_email", "users", [sa.text("lower(email)")], unique=True)
    _restore_lower_username_index()
    op.drop_index("ix_user_sessions_user_id_last_used_at", table_name="user_sessions")
    op.drop_index("ix_user_sessions_token_hash", table_name="user_sessions")
    op.drop_table("user_sessions")
