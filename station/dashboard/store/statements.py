"""The statements ingest runs for every batch, built once per database dialect.

Each is run with a list of rows (executemany), so a batch costs one statement per table
however many stations and sessions it touches. Times are kept order-independent in SQL: a
stored first time only moves earlier, a last time only later (`lower`, `higher`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from station.contract.events import EventType
from station.dashboard.store.models import (
    SessionParticipant,
    SessionSoundSet,
    StoredGap,
    TherapySession,
)


def dialect_insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` of `dialect` ("postgresql" or "sqlite"), which knows ``ON CONFLICT``."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def lower(column: Any, value: Any) -> Any:
    """The earlier of a stored time (NULL: none yet) and `value`, in every backend's SQL."""
    return case((column.is_(None) | (value < column), value), else_=column)


def higher(column: Any, value: Any) -> Any:
    return case((column.is_(None) | (value > column), value), else_=column)


@dataclass(frozen=True)
class BatchStatements:
    session_span: Any
    """``b_id``, ``b_first``, ``b_last``: a session's earliest and latest event."""
    session_started: Any
    """``b_id``, ``b_at``: its ``session_start``."""
    session_ended: Any
    """``b_id``, ``b_at``: its ``session_end``."""
    participants: Any
    sound_sets: Any
    gap_closed: Any
    """``b_station``, ``b_from``: a missing range that is no more (or is now smaller)."""
    gap_opened: Any


@cache
def batch_statements(dialect: str) -> BatchStatements:
    sessions = TherapySession.__table__.c
    by_id = sessions.id == bindparam("b_id")
    parts = dialect_insert(dialect, SessionParticipant)
    taking_part = SessionParticipant.__table__.c
    sounds = dialect_insert(dialect, SessionSoundSet)
    played = SessionSoundSet.__table__.c
    gaps = StoredGap.__table__.c
    return BatchStatements(
        session_span=update(TherapySession).where(by_id).values(
            first_t_wall=lower(sessions.first_t_wall, bindparam("b_first")),
            last_t_wall=higher(sessions.last_t_wall, bindparam("b_last"))),
        session_started=update(TherapySession).where(by_id).values(
            started_t_wall=lower(sessions.started_t_wall, bindparam("b_at"))),
        session_ended=update(TherapySession).where(by_id).values(
            ended_t_wall=higher(sessions.ended_t_wall, bindparam("b_at")),
            ended_by=EventType.SESSION_END.value),
        participants=parts.on_conflict_do_update(
            index_elements=[taking_part.session_id, taking_part.client, taking_part.station_id],
            set_={"first_t_wall": lower(taking_part.first_t_wall, parts.excluded.first_t_wall),
                  "last_t_wall": higher(taking_part.last_t_wall, parts.excluded.last_t_wall)}),
        sound_sets=sounds.on_conflict_do_update(
            index_elements=[played.session_id, played.station_id, played.sound_set],
            set_={"first_t_wall": lower(played.first_t_wall, sounds.excluded.first_t_wall)}),
        gap_closed=delete(StoredGap).where(gaps.station_id == bindparam("b_station"),
                                           gaps.from_seq == bindparam("b_from")),
        gap_opened=insert(StoredGap),
    )
