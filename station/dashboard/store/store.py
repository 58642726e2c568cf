"""`Store`: the dashboard's database as the rest of the dashboard sees it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, func, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from station.dashboard.store.database import migrate, open_engine
from station.dashboard.store.models import (
    Event,
    IngestCounter,
    Station,
    StoredGap,
    TherapySession,
)
from station.dashboard.store.records import (
    BatchResult,
    IngestReason,
    Record,
    Refusal,
    SeqGap,
    StationKey,
)
from station.dashboard.store.writes import write_batch

log = logging.getLogger(__name__)

_ALWAYS = ("id", "seq", "type")
_CONTEXT = ("client", "sound_set", "t_wall", "t_mono")
_OPTIONAL = ("input", "reason", "hold_ms", "detail", "gap_ms", "press_t_mono", "press_t_wall")


@dataclass(frozen=True)
class StationView:
    """A station as the store knows it."""

    station: StationKey
    status: str | None
    status_since: float | None
    last_seen: float | None
    state: dict[str, Any] | None
    highest_seq: int
    counts: dict[str, Any] | None = None
    aggregates: dict[str, Any] | None = None
    health: dict[str, Any] | None = None


def _where(record: Record) -> str:
    return record.topic if isinstance(record, Refusal) else str(record.station)


def event_message(event: Event | Row[Any], station: StationKey) -> dict[str, Any]:
    """The stored event (its ORM object, or a row of its table's columns) as the station
    published it (``event.json``)."""
    message: dict[str, Any] = {key: getattr(event, key) for key in _ALWAYS}
    message.update(station=station.name, site=station.site, session=event.session_id or "")
    message.update({key: getattr(event, key) for key in _CONTEXT})
    message.update({key: getattr(event, key) for key in _OPTIONAL
                    if getattr(event, key) is not None})
    return message


class Store:
    """The dashboard's database, SQLite or PostgreSQL.

    Each call runs in a transaction of its own, so any thread may read; ingest's writer thread
    is the one that writes (`write`). Built from an engine (`open` makes one from a URL and
    migrates it).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        """The database at `url` (``sqlite:///path`` or ``postgresql+psycopg://...``), its
        schema brought up to date with Alembic's ``upgrade head``."""
        engine = open_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def transaction(self) -> Session:
        """A session whose ``begin()`` commits on success; for callers that read several
        things consistently."""
        return self._sessions()

    def write(self, records: Sequence[Record]) -> BatchResult:
        """Write `records` in one transaction: all of them, or (on an error) none."""
        with self._sessions.begin() as db:
            return write_batch(db, records)

    def write_each(self, records: Sequence[Record], received: float) -> BatchResult:
        """Write `records` one transaction each, for a batch that `write` could not: a record
        the database refuses is counted as ``unstorable`` (at `received`) and the rest are
        stored. A lost database still raises (OperationalError), as in `write`."""
        total = BatchResult()
        for record in records:
            try:
                done = self.write([record])
            except (OperationalError, InterfaceError):
                raise
            except Exception as error:  # the database's refusal, or a driver's (encoding)
                log.error("the database refused a message from %s, counted as unstorable: %s",
                          _where(record), error)
                done = self.write([Refusal(IngestReason.UNSTORABLE, _where(record),
                                           str(getattr(error, "orig", None) or error)[:200],
                                           received)])
            total.stored += done.stored
            for reason, number in done.counted.items():
                total.counted[reason] = total.counted.get(reason, 0) + number
        return total

    # -- reading ---------------------------------------------------------------------------
    def gaps(self, station: StationKey | None = None) -> list[SeqGap]:
        """The seq ranges missing per station (all stations, or `station`), in order.

        This is what `station.dashboard.replay.GapFiller` asks a station to replay
        (``cmd/replay`` with ``from_seq`` and ``to_seq``): everything below each station's highest
        stored seq that is not stored. A station first heard of at seq N has 1..N-1 missing.
        """
        query = select(Station.site, Station.name, StoredGap.from_seq, StoredGap.to_seq).join(
            Station, Station.id == StoredGap.station_id)
        if station is not None:
            query = query.where(Station.site == station.site, Station.name == station.name)
        query = query.order_by(Station.site, Station.name, StoredGap.from_seq)
        with self._sessions() as db:
            return [SeqGap(StationKey(site, name), first, last)
                    for site, name, first, last in db.execute(query)]

    def counters(self) -> dict[IngestReason, int]:
        """How many messages ingest refused, by reason, and how many duplicates it dropped."""
        with self._sessions() as db:
            return {IngestReason(row.reason): row.count
                    for row in db.scalars(select(IngestCounter))}

    def counter_rows(self) -> list[IngestCounter]:
        """The counters with the last topic and problem of each."""
        with self._sessions() as db:
            return list(db.scalars(select(IngestCounter).order_by(IngestCounter.reason)))

    def stations(self) -> list[StationView]:
        with self._sessions() as db:
            return [
                StationView(StationKey(row.site, row.name), row.status, row.status_since,
                            row.last_seen, row.state, row.highest_seq, row.counts,
                            row.aggregates, row.health)
                for row in db.scalars(select(Station).order_by(Station.site, Station.name))
            ]

    def session_starts(self, ids: Sequence[str]) -> dict[str, float]:
        """When each of the sessions `ids` started (those whose ``session_start`` is stored)."""
        if not ids:
            return {}
        query = select(TherapySession.id, TherapySession.started_t_wall).where(
            TherapySession.id.in_(ids), TherapySession.started_t_wall.is_not(None))
        with self._sessions() as db:
            return {key: started for key, started in db.execute(query) if started is not None}

    def ping(self) -> None:
        """Raise (OperationalError) when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    def events(self, station: StationKey | None = None) -> list[dict[str, Any]]:
        """The stored events (of `station`, or all) as published, by station and seq."""
        query = select(Event, Station.site, Station.name).join(
            Station, Station.id == Event.station_id)
        if station is not None:
            query = query.where(Station.site == station.site, Station.name == station.name)
        query = query.order_by(Station.site, Station.name, Event.seq, Event.id)
        with self._sessions() as db:
            return [event_message(event, StationKey(site, name))
                    for event, site, name in db.execute(query)]

    def event_count(self) -> int:
        with self._sessions() as db:
            return int(db.scalar(select(func.count()).select_from(Event)) or 0)
