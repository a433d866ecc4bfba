"""Moderation: blocks, mutes, reports, the moderation log, invites, and on users a role, an
approval state (with the applicant's reason) and a suspension time.

Every account there is stays an approved, unsuspended user: the first admin is made with
`warble user role NAME admin`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:31:25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


USERS_PARTIAL_INDEXES = (
    ("ix_users_suspended_at", "suspended_at", "suspended_at IS NOT NULL"),
    ("ix_users_waiting", "created_at", "NOT approved"),
    ("ix_users_staff", "role", "role <> 'user'"),
)
# A batch rebuild of notifications on SQLite keeps this index but loses its DESC: made again.
NOTIFICATIONS_PAGE = ("recipient_id", sa.text("created_at DESC"), sa.text("id DESC"))


def _recreate_notifications_page_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_notifications_recipient_id_created_at_id", table_name="notifications")
        op.create_index(
            "ix_notifications_recipient_id_created_at_id", "notifications", NOTIFICATIONS_PAGE
        )


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.Integer(), nullable=False),
        sa.Column("blocked_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("blocker_id <> blocked_id", name=op.f("ck_blocks_not_self")),
        sa.ForeignKeyConstraint(
            ["blocked_id"],
            ["users.id"],
            name=op.f("fk_blocks_blocked_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["blocker_id"],
            ["users.id"],
            name=op.f("fk_blocks_blocker_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_blocks")),
    )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_blocks_blocked_id_blocker_id", ["blocked_id", "blocker_id"], unique=False
        )

    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "max_uses IS NULL OR max_uses > 0", name=op.f("ck_invites_max_uses_positive")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["users.id"],
            name=op.f("fk_invites_creator_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
    )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.create_index("ix_invites_code", ["code"], unique=True)
        batch_op.create_index(
            "ix_invites_creator_id_created_at",
            ["creator_id", sa.literal_column("created_at DESC")],
            unique=False,
        )

    op.create_table(
        "mutes",
        sa.Column("muter_id", sa.Integer(), nullable=False),
        sa.Column("muted_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("muter_id <> muted_id", name=op.f("ck_mutes_not_self")),
        sa.ForeignKeyConstraint(
            ["muted_id"], ["users.id"], name=op.f("fk_mutes_muted_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["muter_id"], ["users.id"], name=op.f("fk_mutes_muter_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("muter_id", "muted_id", name=op.f("pk_mutes")),
    )
    with op.batch_alter_table("mutes", schema=None) as batch_op:
        batch_op.create_index("ix_mutes_muted_id", ["muted_id"], unique=False)

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.CheckConstraint("length(comment) <= 1000", name=op.f("ck_reports_comment_length")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["users.id"],
            name=op.f("fk_reports_account_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_reports_comment_id_comments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_reports_post_id_posts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_reports_reporter_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["users.id"],
            name=op.f("fk_reports_resolved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_account_id", ["account_id"], unique=False)
        batch_op.create_index("ix_reports_comment_id", ["comment_id"], unique=False)
        batch_op.create_index(
            "ix_reports_open",
            ["created_at", "id"],
            unique=False,
            postgresql_where=sa.text("resolved_at IS NULL"),
            sqlite_where=sa.text("resolved_at IS NULL"),
        )
        batch_op.create_index("ix_reports_post_id", ["post_id"], unique=False)
        batch_op.create_index("ix_reports_reporter_id", ["reporter_id"], unique=False)
        batch_op.create_index("ix_reports_resolved_by_id", ["resolved_by_id"], unique=False)

    op.create_table(
        "moderation_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.Column("moderator_name", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_name", sa.String(length=30), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["users.id"],
            name=op.f("fk_moderation_actions_account_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["moderator_id"],
            ["users.id"],
            name=op.f("fk_moderation_actions_moderator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_moderation_actions_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_actions")),
    )
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_actions_account_id", ["account_id"], unique=False)
        batch_op.create_index(
            "ix_moderation_actions_created_at_id",
            [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
            unique=False,
        )
        batch_op.create_index("ix_moderation_actions_moderator_id", ["moderator_id"], unique=False)
        batch_op.create_index("ix_moderation_actions_report_id", ["report_id"], unique=False)

    # A report's notification. SQLite cannot add a named foreign key in place (its column
    # constraint is not one alembic or SQLAlchemy read back): batch mode rebuilds the table.
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("report_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_report_id_reports"),
            "reports",
            ["report_id"],
            ["id"],
            ondelete="CASCADE",
        )
    _recreate_notifications_page_index()
    op.create_index("ix_notifications_report_id", "notifications", ["report_id"])

    # Columns SQLite adds in place (a batch rebuild of users would lose its expression index).
    op.add_column(
        "users", sa.Column("role", sa.String(length=20), server_default="user", nullable=False)
    )
    op.add_column(
        "users", sa.Column("approved", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("users", sa.Column("signup_reason", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    for name, column, where in USERS_PARTIAL_INDEXES:
        op.create_index(
            name, "users", [column], postgresql_where=sa.text(where), sqlite_where=sa.text(where)
        )


def downgrade() -> None:
    for name, _column, _where in USERS_PARTIAL_INDEXES:
        op.drop_index(name, table_name="users")
    for column in ("suspended_at", "signup_reason", "approved", "role"):
        op.drop_column("users", column)  # in place on SQLite 3.35+: nothing indexes them now

    op.drop_index("ix_notifications_report_id", table_name="notifications")
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_report_id_reports"), type_="foreignkey"
        )
        batch_op.drop_column("report_id")
    _recreate_notifications_page_index()

    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_actions_report_id")
        batch_op.drop_index("ix_moderation_actions_moderator_id")
        batch_op.drop_index("ix_moderation_actions_created_at_id")
        batch_op.drop_index("ix_moderation_actions_account_id")

    op.drop_table("moderation_actions")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_resolved_by_id")
        batch_op.drop_index("ix_reports_reporter_id")
        batch_op.drop_index("ix_reports_post_id")
        batch_op.drop_index(
            "ix_reports_open",
            postgresql_where=sa.text("resolved_at IS NULL"),
            sqlite_where=sa.text("resolved_at IS NULL"),
        )
        batch_op.drop_index("ix_reports_comment_id")
        batch_op.drop_index("ix_reports_account_id")

    op.drop_table("reports")
    with op.batch_alter_table("mutes", schema=None) as batch_op:
        batch_op.drop_index("ix_mutes_muted_id")

    op.drop_table("mutes")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index("ix_invites_creator_id_created_at")
        batch_op.drop_index("ix_invites_code")

    op.drop_table("invites")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_blocks_blocked_id_blocker_id")

    op.drop_table("blocks")
