"""Where a client's sound set or settings changed: the ``sound_set_changed`` and
``client_changed`` events in and between the client's sessions, and a cache for the sessions
that can no longer change.

The events table has no index on the event's type, so finding these few events means reading
through all of a session's events (0.5 ms a session of 2,500 events on SQLite). A session whose
``session_start`` and ``session_end`` are both stored, with no seq of its station missing
between them, is complete: events are only ever added, and every event of the session lies
between its start and its end, so its changes are found once and kept in a `ChangeCache`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.contract.events import EventType
from station.dashboard.store.models import Event, StoredGap

CHANGES = (EventType.SOUND_SET_CHANGED, EventType.CLIENT_CHANGED)
_BOUNDS = (EventType.SESSION_START, EventType.SESSION_END)
_CHUNK = 500  # session ids per IN (...)

PartKey = tuple[str, int]
"""(session id, station id): one station's part of a session"""


@dataclass(frozen=True)
class ChangeEvent:
    """A ``sound_set_changed`` (value: the sound set) or ``client_changed`` (value: the
    client whose profile was applied: another client, or the same one's reloaded settings)."""

    t_wall: float
    kind: str
    value: str
    session_id: str | None


class ChangeCache:
    """The changes of complete session parts, kept between calls; one per dashboard process.

    Safe to share between threads. Holds at most `max_parts` parts (default 100,000: a few
    tens of MB at most); beyond that the oldest entries are dropped and found again on use.
    """

    def __init__(self, max_parts: int = 100_000) -> None:
        self.max_parts = max_parts
        self._parts: dict[PartKey, tuple[ChangeEvent, ...]] = {}
        self._lock = threading.Lock()

    def get(self, key: PartKey) -> tuple[ChangeEvent, ...] | None:
        with self._lock:
            return self._parts.get(key)

    def put(self, key: PartKey, changes: tuple[ChangeEvent, ...]) -> None:
        with self._lock:
            if key not in self._parts and len(self._parts) >= self.max_parts:
                del self._parts[next(iter(self._parts))]
            self._parts[key] = changes

    def __len__(self) -> int:
        with self._lock:
            return len(self._parts)


def _value(kind: str, detail: dict[str, object] | None) -> str:
    key = "sound_set" if kind == EventType.SOUND_SET_CHANGED else "client"
    return str((detail or {}).get(key, ""))


def part_changes(
    db: Session, parts: Iterable[PartKey], cache: ChangeCache | None = None
) -> dict[PartKey, tuple[ChangeEvent, ...]]:
    """The changes within each part, in time order; complete parts are kept in `cache`."""
    wanted = list(dict.fromkeys(parts))
    found: dict[PartKey, tuple[ChangeEvent, ...]] = {}
    missing = []
    for key in wanted:
        cached = cache.get(key) if cache is not None else None
        if cached is None:
            missing.append(key)
        else:
            found[key] = cached
    if not missing:
        return found
    changes: dict[PartKey, list[ChangeEvent]] = {key: [] for key in missing}
    bounds: dict[PartKey, dict[str, int]] = {key: {} for key in missing}
    sessions = sorted({session for session, _ in missing})
    for first in range(0, len(sessions), _CHUNK):
        rows = db.execute(
            select(Event.session_id, Event.station_id, Event.type, Event.seq, Event.t_wall,
                   Event.detail)
            .where(Event.session_id.in_(sessions[first:first + _CHUNK]),
                   Event.type.in_([*CHANGES, *_BOUNDS]))
            .order_by(Event.t_wall, Event.id))
        for session_id, station_id, kind, seq, t_wall, detail in rows:
            key = (session_id, station_id)
            if key not in changes:
                continue
            if kind in _BOUNDS:
                bounds[key][kind] = seq
            else:
                changes[key].append(ChangeEvent(t_wall, kind, _value(kind, detail), session_id))
    gaps = _gaps(db, {station for _, station in missing})
    for key in missing:
        found[key] = tuple(changes[key])
        start, end = bounds[key].get(EventType.SESSION_START), bounds[key].get(
            EventType.SESSION_END)
        complete = start is not None and end is not None and not any(
            first <= end and last >= start for first, last in gaps.get(key[1], []))
        if cache is not None and complete:
            cache.put(key, found[key])
    return found


def _gaps(db: Session, stations: set[int]) -> dict[int, list[tuple[int, int]]]:
    """The seq ranges each station is missing (a small table)."""
    gaps: dict[int, list[tuple[int, int]]] = {}
    if stations:
        for station_id, first, last in db.execute(
                select(StoredGap.station_id, StoredGap.from_seq, StoredGap.to_seq)
                .where(StoredGap.station_id.in_(sorted(stations)))):
            gaps.setdefault(station_id, []).append((first, last))
    return gaps


def changes_between_sessions(db: Session, client: str) -> list[ChangeEvent]:
    """The client's changes recorded outside any session (a reload or a sound set chosen
    between sessions), in time order."""
    # By the session index (events outside sessions are few), and the client picked here:
    # given the client too, SQLite walks the client's index through every one of its events.
    query = (select(Event.client, Event.t_wall, Event.type, Event.detail)
             .where(Event.session_id.is_(None), Event.type.in_(CHANGES))
             .order_by(Event.t_wall, Event.id))
    return [ChangeEvent(t_wall, kind, _value(kind, detail), None)
            for who, t_wall, kind, detail in db.execute(query) if who == client]
