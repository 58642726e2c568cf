"""The dashboard's tables, as SQLAlchemy 2 typed models; Alembic's migrations build the same.

Every client's data is keyed by the client's pseudonym, never by the station it was played
on: a session may have several clients and several stations (`SessionParticipant`), so group
sessions need no new schema. Times are the station's: ``*_t_wall`` is Unix time in seconds as
the station's clock said; ``received`` is the dashboard's own clock when a message arrived.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names that are the same on every backend, so migrations can name them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON documents; PostgreSQL stores them as jsonb (indexable, compact).
Document = JSON().with_variant(JSONB(), "postgresql")

NAME = 32  # a site, station, input or sound-set name (`^[a-z0-9][a-z0-9-]{0,31}$`)
PSEUDONYM = 17  # `^[A-Z][A-Z0-9]{0,3}-[A-Z0-9]{2,12}$`
SESSION_ID = 64
EVENT_ID = 32  # 32 hex digits
REASON = 64  # a rejected press's reason (`lockout`)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Station(Base):
    """One station, known by its site and its id within the site (``demo-site``/``room-1``)."""

    __tablename__ = "stations"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(NAME))
    name: Mapped[str] = mapped_column(String(NAME))
    status: Mapped[str | None] = mapped_column(String(16))
    """``online`` or ``offline`` as its retained status topic says; None before it did."""
    status_since: Mapped[float | None] = mapped_column(Double)
    """When the dashboard saw the status change (received, seconds)."""
    last_seen: Mapped[float | None] = mapped_column(Double)
    """When the station last sent something live (received, seconds; not a retained copy)."""
    state: Mapped[dict[str, Any] | None] = mapped_column(Document)
    """The last retained ``state`` message: client, sound set, volume, session."""
    highest_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """The highest ``seq`` stored for this station; `StoredGap` rows say what is missing below."""
    counts: Mapped[dict[str, Any] | None] = mapped_column(Document)
    """The last retained ``session/counts``: accepted presses per input this session."""
    aggregates: Mapped[dict[str, Any] | None] = mapped_column(Document)
    """The last retained ``session/aggregates``: the running session's tallies."""
    health: Mapped[dict[str, Any] | None] = mapped_column(Document)
    """The last retained ``status/health``: backlog, disk space, delivery errors."""


class Client(Base):
    """A client, by pseudonym only (``C-7F3K``): real names stay in the clinic's records."""

    __tablename__ = "clients"

    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM), primary_key=True)
    first_t_wall: Mapped[float] = mapped_column(Double)
    """The earliest event stored for this client."""


class TherapySession(Base):
    """A therapy session by the id the station gave it; who took part is in the participants."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(SESSION_ID), primary_key=True)
    started_t_wall: Mapped[float | None] = mapped_column(Double)
    """The earliest ``session_start`` event; None until it is stored."""
    ended_t_wall: Mapped[float | None] = mapped_column(Double)
    """The latest ``session_end`` event; None while running, or if it never ended."""
    ended_by: Mapped[str | None] = mapped_column(String(16))
    """``session_end``, or ``interrupted`` when a station's summary says it never ended."""
    first_t_wall: Mapped[float | None] = mapped_column(Double)
    """The earliest event of the session that is stored (None: only its summary is)."""
    last_t_wall: Mapped[float | None] = mapped_column(Double)
    """The latest event of the session that is stored."""


class SessionParticipant(Base):
    """A client on a station in a session: one row each, so groups need no other schema."""

    __tablename__ = "session_participants"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    client: Mapped[str] = mapped_column(ForeignKey("clients.pseudonym"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    first_t_wall: Mapped[float] = mapped_column(Double)
    last_t_wall: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index(None, "client", "first_t_wall"),)


class SessionSoundSet(Base):
    """A sound set that played on a station during a session."""

    __tablename__ = "session_sound_sets"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    sound_set: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    first_t_wall: Mapped[float] = mapped_column(Double)


class SessionSummary(Base):
    """The summary a station published for its part of a session (``summary.json``), as is."""

    __tablename__ = "session_summaries"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    summary: Mapped[dict[str, Any]] = mapped_column(Document)
    received: Mapped[float] = mapped_column(Double)


class Event(Base):
    """A copy of one published event (``event.json``): every key has its column."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "station_id", "seq"),
        Index(None, "session_id", "t_wall"),
        Index(None, "client", "t_wall"),
    )

    id: Mapped[str] = mapped_column(String(EVENT_ID), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"))
    """None outside a session (the message's ``session`` is empty)."""
    client: Mapped[str] = mapped_column(ForeignKey("clients.pseudonym"))
    sound_set: Mapped[str] = mapped_column(String(NAME))
    t_wall: Mapped[float] = mapped_column(Double)
    t_mono: Mapped[float] = mapped_column(Double)
    input: Mapped[str | None] = mapped_column(String(NAME))
    reason: Mapped[str | None] = mapped_column(String(REASON))
    hold_ms: Mapped[float | None] = mapped_column(Double)
    gap_ms: Mapped[float | None] = mapped_column(Double)
    press_t_mono: Mapped[float | None] = mapped_column(Double)
    press_t_wall: Mapped[float | None] = mapped_column(Double)
    detail: Mapped[dict[str, Any] | None] = mapped_column(Document)
    received: Mapped[float] = mapped_column(Double)


class StoredGap(Base):
    """Seqs ``from_seq`` to ``to_seq`` (inclusive) of a station that are not stored."""

    __tablename__ = "seq_gaps"
    __table_args__ = (CheckConstraint("from_seq <= to_seq", name="ordered"),)

    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True
    )
    from_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    to_seq: Mapped[int] = mapped_column(BigInteger)


class IngestCounter(Base):
    """How often ingest met something: a refused message (by reason) or a duplicate."""

    __tablename__ = "ingest_counters"

    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    last_received: Mapped[float] = mapped_column(Double)
    last_topic: Mapped[str] = mapped_column(String(512))
    last_problem: Mapped[str] = mapped_column(String(200))
    """What was wrong with the last one, in words (may quote the offending value)."""
