"""OAuth 2 for the Mastodon-compatible client API: registered apps, authorization codes,
access tokens (all secrets stored as SHA-256), and the Idempotency-Key of API posts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app/models.py; a migration never imports the app
APP_NAME_MAX, WEBSITE_MAX, SCOPES_MAX, IDEMPOTENCY_KEY_MAX = 100, 255, 255, 255


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "oauth_apps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(APP_NAME_MAX), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(SCOPES_MAX), nullable=False),
        sa.Column("website", sa.String(WEBSITE_MAX), nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_apps")),
    )
    op.create_index("ix_oauth_apps_client_id", "oauth_apps", ["client_id"], unique=True)

    op.create_table(
        "oauth_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(SCOPES_MAX), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        _at("created_at"),
        _at("expires_at"),
        _fk("oauth_codes", "app_id", "oauth_apps"),
        _fk("oauth_codes", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_codes")),
    )
    op.create_index("ix_oauth_codes_code_hash", "oauth_codes", ["code_hash"], unique=True)
    op.create_index("ix_oauth_codes_app_id", "oauth_codes", ["app_id"])
    op.create_index("ix_oauth_codes_user_id", "oauth_codes", ["user_id"])

    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("scopes", sa.String(SCOPES_MAX), nullable=False),
        _at("created_at"),
        _at("last_used_at", nullable=True),
        _fk("oauth_tokens", "app_id", "oauth_apps"),
        _fk("oauth_tokens", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
    )
    op.create_index("ix_oauth_tokens_token_hash", "oauth_tokens", ["token_hash"], unique=True)
    op.create_index("ix_oauth_tokens_user_id_app_id", "oauth_tokens", ["user_id", "app_id"])
    op.create_index("ix_oauth_tokens_app_id", "oauth_tokens", ["app_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(IDEMPOTENCY_KEY_MAX), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        _at("created_at"),
        _fk("idempotency_keys", "user_id", "users"),
        _fk("idempotency_keys", "post_id", "posts"),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_post_id", "idempotency_keys", ["post_id"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_apps")
