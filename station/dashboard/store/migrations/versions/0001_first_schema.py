"""The first schema: stations, clients, sessions and who took part, events, seq gaps, counters.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As the models say, frozen here: a later change of the models gets a migration of its own.
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NAME = sa.String(32)
PSEUDONYM = sa.String(17)
SESSION_ID = sa.String(64)


def _foreign_key(table: str, column: str, target: str, cascade: bool = False) -> sa.Constraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete="CASCADE" if cascade else None,
    )


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("status_since", sa.Double(), nullable=True),
        sa.Column("last_seen", sa.Double(), nullable=True),
        sa.Column("state", DOCUMENT, nullable=True),
        sa.Column("highest_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
        sa.UniqueConstraint("site", "name", name=op.f("uq_stations_site_name")),
    )
    op.create_table(
        "clients",
        sa.Column("pseudonym", PSEUDONYM, nullable=False),
        sa.Column("first_t_wall", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", name=op.f("pk_clients")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", SESSION_ID, nullable=False),
        sa.Column("started_t_wall", sa.Double(), nullable=True),
        sa.Column("ended_t_wall", sa.Double(), nullable=True),
        sa.Column("ended_by", sa.String(16), nullable=True),
        sa.Column("first_t_wall", sa.Double(), nullable=True),
        sa.Column("last_t_wall", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_table(
        "session_participants",
        sa.Column("session_id", SESSION_ID, nullable=False),
        sa.Column("client", PSEUDONYM, nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("first_t_wall", sa.Double(), nullable=False),
        sa.Column("last_t_wall", sa.Double(), nullable=False),
        _foreign_key("session_participants", "session_id", "sessions.id", cascade=True),
        _foreign_key("session_participants", "client", "clients.pseudonym"),
        _foreign_key("session_participants", "station_id", "stations.id"),
        sa.PrimaryKeyConstraint(
            "session_id", "client", "station_id", name=op.f("pk_session_participants")
        ),
    )
    op.create_index(
        op.f("ix_session_participants_client_first_t_wall"), "session_participants",
        ["client", "first_t_wall"],
    )
    op.create_table(
        "session_sound_sets",
        sa.Column("session_id", SESSION_ID, nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("sound_set", NAME, nullable=False),
        sa.Column("first_t_wall", sa.Double(), nullable=False),
        _foreign_key("session_sound_sets", "session_id", "sessions.id", cascade=True),
        _foreign_key("session_sound_sets", "station_id", "stations.id"),
        sa.PrimaryKeyConstraint(
            "session_id", "station_id", "sound_set", name=op.f("pk_session_sound_sets")
        ),
    )
    op.create_table(
        "session_summaries",
        sa.Column("session_id", SESSION_ID, nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("summary", DOCUMENT, nullable=False),
        sa.Column("received", sa.Double(), nullable=False),
        _foreign_key("session_summaries", "session_id", "sessions.id", cascade=True),
        _foreign_key("session_summaries", "station_id", "stations.id"),
        sa.PrimaryKeyConstraint("session_id", "station_id", name=op.f("pk_session_summaries")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("session_id", SESSION_ID, nullable=True),
        sa.Column("client", PSEUDONYM, nullable=False),
        sa.Column("sound_set", NAME, nullable=False),
        sa.Column("t_wall", sa.Double(), nullable=False),
        sa.Column("t_mono", sa.Double(), nullable=False),
        sa.Column("input", NAME, nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("hold_ms", sa.Double(), nullable=True),
        sa.Column("gap_ms", sa.Double(), nullable=True),
        sa.Column("press_t_mono", sa.Double(), nullable=True),
        sa.Column("press_t_wall", sa.Double(), nullable=True),
        sa.Column("detail", DOCUMENT, nullable=True),
        sa.Column("received", sa.Double(), nullable=False),
        _foreign_key("events", "station_id", "stations.id"),
        _foreign_key("events", "session_id", "sessions.id"),
        _foreign_key("events", "client", "clients.pseudonym"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_station_id_seq"), "events", ["station_id", "seq"])
    op.create_index(op.f("ix_events_session_id_t_wall"), "events", ["session_id", "t_wall"])
    op.create_index(op.f("ix_events_client_t_wall"), "events", ["client", "t_wall"])
    op.create_table(
        "seq_gaps",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("from_seq <= to_seq", name=op.f("ck_seq_gaps_ordered")),
        _foreign_key("seq_gaps", "station_id", "stations.id", cascade=True),
        sa.PrimaryKeyConstraint("station_id", "from_seq", name=op.f("pk_seq_gaps")),
    )
    op.create_table(
        "ingest_counters",
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_received", sa.Double(), nullable=False),
        sa.Column("last_topic", sa.String(512), nullable=False),
        sa.Column("last_problem", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("reason", name=op.f("pk_ingest_counters")),
    )


def downgrade() -> None:
    for table in ("ingest_counters", "seq_gaps", "events", "session_summaries",
                  "session_sound_sets", "session_participants", "sessions", "clients",
                  "stations"):
        op.drop_table(table)
