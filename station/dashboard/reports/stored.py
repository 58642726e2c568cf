"""Reading the store for the reports: which stations took part in a session, and a station's
events of it, as the station's own `Event` (so the station's pure functions run on them).

A session is summarised per station, as the station does: the monotonic clock (``t_mono``)
that durations and engaged stretches are measured on is each station's own, and the store
keys the published summaries by (session, station) too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from station.dashboard.store import StationKey
from station.dashboard.store.models import (
    Event,
    SessionParticipant,
    SessionSummary,
    Station,
    TherapySession,
)
from station.errors import StationError
from station.telemetry import eventlog


class ReportError(StationError, LookupError):
    """A report was asked for a session, station or client the store does not hold."""


@dataclass(frozen=True)
class SessionPart:
    """One station's part of a session: what a summary and a report cover."""

    session_id: str
    station: StationKey
    station_id: int


# The columns of the station's `Event`, in its order, read straight from the events table.
_EVENT_COLUMNS = (Event.seq, Event.id, Event.type, Event.session_id, Event.client,
                  Event.sound_set, Event.input, Event.reason, Event.t_wall, Event.t_mono,
                  Event.hold_ms, Event.detail)


def station_event(row: Any) -> eventlog.Event:
    """A row of `_EVENT_COLUMNS` as the station's `Event` (an empty session is ``""``)."""
    seq, id_, kind, session, client, sound_set, input_, reason, t_wall, t_mono, hold, detail = (
        row)
    return eventlog.Event(seq=seq, id=id_, type=kind, session=session or "", client=client,
                          sound_set=sound_set, input=input_, reason=reason, t_wall=t_wall,
                          t_mono=t_mono, hold_ms=hold, detail=detail)


def session_parts(db: Session, session_id: str) -> list[SessionPart]:
    """The stations that took part in `session_id` (played in it or published its summary),
    by site and name; empty if the store does not know the session."""
    station_ids = union(
        select(SessionParticipant.station_id).where(SessionParticipant.session_id == session_id),
        select(SessionSummary.station_id).where(SessionSummary.session_id == session_id),
    ).subquery()
    rows = db.execute(select(Station.id, Station.site, Station.name)
                      .where(Station.id.in_(select(station_ids.c.station_id)))
                      .order_by(Station.site, Station.name))
    return [SessionPart(session_id, StationKey(site, name), id_) for id_, site, name in rows]


def session_part(db: Session, session_id: str, station: StationKey | None = None) -> SessionPart:
    """The part of `session_id` played on `station`; without `station`, the session's only
    station. ReportError when there is no such part, or several to choose from."""
    if db.get(TherapySession, session_id) is None:
        raise ReportError(f"session {session_id!r} is not in the dashboard's store")
    parts = session_parts(db, session_id)
    if station is not None:
        for part in parts:
            if part.station == station:
                return part
        raise ReportError(f"station {station} took no part in session {session_id!r}; "
                          f"it was played on {_names(parts)}")
    if len(parts) != 1:
        raise ReportError(
            f"session {session_id!r} was played on {_names(parts)}: name the station")
    return parts[0]


def _names(parts: list[SessionPart]) -> str:
    return ", ".join(str(part.station) for part in parts) or "no station yet"


def part_events(db: Session, part: SessionPart) -> list[eventlog.Event]:
    """Every stored event of the part, in the station's order (seq)."""
    query = (select(*_EVENT_COLUMNS)
             .where(Event.session_id == part.session_id, Event.station_id == part.station_id)
             .order_by(Event.seq, Event.id))
    return [station_event(row) for row in db.execute(query)]


def published_summary(db: Session, part: SessionPart) -> dict[str, Any] | None:
    """The ``session/summary`` the station published for its part, as it came; None if none
    has arrived (the session is running, or its summary is still on its way)."""
    row = db.get(SessionSummary, (part.session_id, part.station_id))
    return None if row is None else dict(row.summary)
