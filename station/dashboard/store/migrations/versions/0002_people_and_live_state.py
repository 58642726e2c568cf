"""People and live state: users, assignments, sign-ins, the audit log, versioned session notes;
each station's last retained counts, aggregates and health.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As the models say, frozen here.
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
USER_NAME = sa.String(32)
PSEUDONYM = sa.String(17)
SESSION_ID = sa.String(64)
ADDRESS = sa.String(64)
LIVE_COLUMNS = ("counts", "aggregates", "health")


def upgrade() -> None:
    for column in LIVE_COLUMNS:
        op.add_column("stations", sa.Column(column, DOCUMENT, nullable=True))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", USER_NAME, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'therapist', 'staff')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "assignments",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client", PSEUDONYM, nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_assignments_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "client", name=op.f("pk_assignments")),
    )
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("last_used", sa.Double(), nullable=False),
        sa.Column("address", ADDRESS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_login_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("user_name", USER_NAME, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("client", PSEUDONYM, nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("address", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_client_at"), "audit_log", ["client", "at"])
    op.create_table(
        "session_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", SESSION_ID, nullable=False),
        sa.Column("client", PSEUDONYM, nullable=False),
        sa.Column("author", USER_NAME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"],
                                name=op.f("fk_session_notes_session_id_sessions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client"], ["clients.pseudonym"],
                                name=op.f("fk_session_notes_client_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_notes")),
        sa.UniqueConstraint("session_id", "client", "version",
                            name=op.f("uq_session_notes_session_id_client_version")),
    )
    op.create_index(op.f("ix_session_notes_session_id"), "session_notes", ["session_id"])


def downgrade() -> None:
    for table in ("session_notes", "audit_log", "login_sessions", "assignments", "users"):
        op.drop_table(table)
    with op.batch_alter_table("stations") as batch:
        for column in LIVE_COLUMNS:
            batch.drop_column(column)
