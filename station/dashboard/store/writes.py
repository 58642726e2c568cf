"""Writing one batch of checked messages in one transaction.

Events are inserted with the dialect's ``INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id``,
and only the events that the insert returns (new ones) touch anything else: sessions, who
took part, sound sets, the station's seq and gaps. A redelivered event therefore changes
nothing but the ``duplicate`` counter. Everything derived from events is order-independent
(earliest / latest, ranges), so a gap filled late gives the same rows as events in order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from station.contract.events import EventType
from station.dashboard.store.gaps import SeqRange, arrive
from station.dashboard.store.models import (
    Client,
    Event,
    IngestCounter,
    SessionSummary,
    Station,
    StoredGap,
    TherapySession,
)
from station.dashboard.store.records import (
    BatchResult,
    EventRecord,
    IngestReason,
    LiveRecord,
    Record,
    Refusal,
    StateRecord,
    StationKey,
    StatusRecord,
    SummaryRecord,
)
from station.dashboard.store.statements import BatchStatements, batch_statements
from station.dashboard.store.statements import dialect_insert as insert_of


def dialect_insert(db: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` of the database's own dialect, which knows ``ON CONFLICT``."""
    return insert_of(db.get_bind().dialect.name, table)


def _statements(db: Session) -> BatchStatements:
    return batch_statements(db.get_bind().dialect.name)


def write_batch(db: Session, records: Sequence[Record]) -> BatchResult:
    """Write `records` in `db`'s transaction (the caller commits)."""
    counted: Counter[IngestReason] = Counter()
    last: dict[IngestReason, Refusal] = {}
    for refusal in (record for record in records if isinstance(record, Refusal)):
        counted[refusal.reason] += 1
        last[refusal.reason] = refusal
    stations = _stations(db, {record.station for record in records
                              if not isinstance(record, Refusal)})
    events: dict[str, EventRecord] = {}
    duplicates: list[EventRecord] = []
    for record in records:
        if isinstance(record, EventRecord):
            if record.message["id"] in events:
                duplicates.append(record)
            events.setdefault(record.message["id"], record)
    new = _insert_events(db, stations, list(events.values()))
    duplicates += [record for key, record in events.items() if key not in new]
    if duplicates:
        counted[IngestReason.DUPLICATE] += len(duplicates)
    for record in duplicates[-1:]:
        last[IngestReason.DUPLICATE] = Refusal(
            IngestReason.DUPLICATE, f"{record.station}/events",
            f"event {record.message['id']} (seq {record.message['seq']}) is already stored",
            record.received)
    fresh = [events[key] for key in new]
    _follow_clients(db, fresh)
    _follow_sessions(db, stations, fresh)
    reused = _follow_seqs(db, stations, fresh)
    if reused:
        counted[IngestReason.SEQ_REUSED] += len(reused)
        record = reused[-1]
        last[IngestReason.SEQ_REUSED] = Refusal(
            IngestReason.SEQ_REUSED, f"{record.station}/events",
            f"seq {record.message['seq']} came again with a new event id "
            f"{record.message['id']}", record.received)
    # One "last seen" per station, not one per event: the latest of the batch is the same.
    seen: dict[StationKey, float] = {}
    for record in fresh:
        if not record.retained:
            seen[record.station] = max(record.received, seen.get(record.station, 0.0))
    for key, received in seen.items():
        _seen(stations[key], received, retained=False)
    for record in records:
        if isinstance(record, EventRecord):
            continue
        if isinstance(record, StatusRecord):
            _status(stations[record.station], record)
        elif isinstance(record, StateRecord):
            stations[record.station].state = record.state
            _seen(stations[record.station], record.received, record.retained)
        elif isinstance(record, SummaryRecord):
            _summary(db, stations[record.station], record)
        elif isinstance(record, LiveRecord):
            setattr(stations[record.station], record.kind, record.document)
            _seen(stations[record.station], record.received, record.retained)
    _count(db, counted, last)
    return BatchResult(stored=len(new), counted=dict(counted))


def _stations(db: Session, keys: Iterable[StationKey]) -> dict[StationKey, Station]:
    wanted = set(keys)
    found: dict[StationKey, Station] = {}
    if wanted:
        rows = db.scalars(select(Station).where(
            tuple_(Station.site, Station.name).in_([(key.site, key.name) for key in wanted])))
        found = {StationKey(row.site, row.name): row for row in rows}
    for key in sorted(wanted - found.keys()):
        found[key] = Station(site=key.site, name=key.name, highest_seq=0)
        db.add(found[key])
    db.flush()
    return found


def _insert_events(
    db: Session, stations: dict[StationKey, Station], records: list[EventRecord]
) -> set[str]:
    """Insert the events not stored yet, in one multi-row statement; their ids."""
    if not records:
        return set()
    _ensure_clients(db, records)
    _ensure_sessions(db, records)
    # Which are stored already, in one query, then one executemany of the rest, handed to the
    # database driver as tuples (psycopg sends it as a pipeline of one prepared statement).
    # Not through SQLAlchemy's compiled statement: that processes every row's parameters in
    # Python, a fifth of ingest's writing time. ON CONFLICT still guards the id, but only
    # ingest's one writer writes events, so what the query did not find is what the insert adds.
    ids = [record.message["id"] for record in records]
    connection = db.connection()
    stored = set(connection.execute(select(Event.id).where(Event.id.in_(ids))).scalars())
    rows = []
    for record in records:
        message = record.message
        if message["id"] in stored:
            continue
        get = message.get
        rows.append((message["id"], stations[record.station].id, message["seq"],
                     message["type"], message["session"] or None, message["client"],
                     message["sound_set"], message["t_wall"], message["t_mono"], get("input"),
                     get("reason"), get("hold_ms"), get("gap_ms"), get("press_t_mono"),
                     get("press_t_wall"), json.dumps(get("detail")), record.received))
    if rows and connection.dialect.name == "postgresql":
        # One statement for the whole batch, a column array a parameter: PostgreSQL then
        # plans and runs one INSERT, not one per row.
        columns = [list(column) for column in zip(*rows, strict=True)]
        for index in _FLOAT_COLUMNS:  # an array is one type: a whole number as a float
            columns[index] = [None if value is None else float(value)
                              for value in columns[index]]
        connection.exec_driver_sql(_POSTGRES_EVENT_INSERT, tuple(columns))
    elif rows:
        connection.exec_driver_sql(_SQLITE_EVENT_INSERT, rows)
    return {row[0] for row in rows}


# The events table's columns in the order `_insert_events` gives them. A missing ``detail``
# is stored as JSON ``null``, as SQLAlchemy's JSON type stores None.
_EVENT_COLUMNS = ("id", "station_id", "seq", "type", "session_id", "client", "sound_set",
                  "t_wall", "t_mono", "input", "reason", "hold_ms", "gap_ms", "press_t_mono",
                  "press_t_wall", "detail", "received")


# Each column's PostgreSQL array type, in that order (``detail`` as text, cast per row).
_POSTGRES_ARRAYS = ("varchar", "integer", "bigint", "varchar", "varchar", "varchar", "varchar",
                    "float8", "float8", "varchar", "varchar", "float8", "float8", "float8",
                    "float8", "text", "float8")
_FLOAT_COLUMNS = [index for index, kind in enumerate(_POSTGRES_ARRAYS) if kind == "float8"]
_COLUMN_LIST = ", ".join(_EVENT_COLUMNS)
_SQLITE_EVENT_INSERT = (
    f"INSERT INTO {Event.__tablename__} ({_COLUMN_LIST}) "
    f"VALUES ({', '.join('?' for _ in _EVENT_COLUMNS)}) ON CONFLICT (id) DO NOTHING")
_POSTGRES_EVENT_INSERT = (
    f"INSERT INTO {Event.__tablename__} ({_COLUMN_LIST}) "
    f"SELECT {_COLUMN_LIST.replace('detail', 'CAST(detail AS JSONB)')} FROM unnest("
    + ", ".join(f"%s::{kind}[]" for kind in _POSTGRES_ARRAYS)
    + f") AS batch({_COLUMN_LIST}) ON CONFLICT (id) DO NOTHING")


def _ensure_clients(db: Session, records: list[EventRecord]) -> None:
    earliest: dict[str, float] = {}
    for record in records:
        client, t_wall = record.message["client"], record.message["t_wall"]
        earliest[client] = min(t_wall, earliest.get(client, t_wall))
    statement = dialect_insert(db, Client).on_conflict_do_nothing(
        index_elements=[Client.pseudonym])
    db.execute(statement, [{"pseudonym": key, "first_t_wall": t} for key, t in earliest.items()])


def _ensure_sessions(db: Session, records: list[EventRecord]) -> None:
    ids = {record.message["session"] for record in records} - {""}
    if ids:
        statement = dialect_insert(db, TherapySession).on_conflict_do_nothing(
            index_elements=[TherapySession.id])
        db.execute(statement, [{"id": key} for key in sorted(ids)])


def _follow_clients(db: Session, records: list[EventRecord]) -> None:
    earliest: dict[str, float] = {}
    for record in records:
        client, t_wall = record.message["client"], record.message["t_wall"]
        earliest[client] = min(t_wall, earliest.get(client, t_wall))
    if earliest:
        for client in db.scalars(select(Client).where(Client.pseudonym.in_(earliest))):
            client.first_t_wall = min(client.first_t_wall, earliest[client.pseudonym])


def _latest(current: float | None, value: float) -> float:
    return value if current is None else max(current, value)


class _Span:
    """The earliest and latest t_wall of some new events (a session's, a participant's)."""

    __slots__ = ("first", "last")

    def __init__(self, t_wall: float) -> None:
        self.first = self.last = t_wall

    def add(self, t_wall: float) -> None:
        if t_wall < self.first:
            self.first = t_wall
        elif t_wall > self.last:
            self.last = t_wall


def _follow_sessions(
    db: Session, stations: dict[StationKey, Station], records: list[EventRecord]
) -> None:
    """Sessions, participants and sound sets as the new events say.

    The batch is first reduced to one span per session, participant and sound set; then each
    table gets one statement for all its rows (an UPDATE, or an upsert that keeps the earlier
    first and the later last time), so no stored row is loaded into Python."""
    spans: dict[str, _Span] = {}
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    taking_part: dict[tuple[str, str, int], _Span] = {}
    sounding: dict[tuple[str, int, str], float] = {}
    for record in records:
        message = record.message
        session_id, t_wall = message["session"], message["t_wall"]
        if not session_id:
            continue
        span = spans.get(session_id)
        if span is None:
            spans[session_id] = _Span(t_wall)
        else:
            span.add(t_wall)
        kind = message["type"]
        if kind == EventType.SESSION_START:
            started[session_id] = min(t_wall, started.get(session_id, t_wall))
        elif kind == EventType.SESSION_END:
            ended[session_id] = max(t_wall, ended.get(session_id, t_wall))
        station_id = stations[record.station].id
        key = (session_id, message["client"], station_id)
        part = taking_part.get(key)
        if part is None:
            taking_part[key] = _Span(t_wall)
        else:
            part.add(t_wall)
        sound_key = (session_id, station_id, message["sound_set"])
        sounding[sound_key] = min(t_wall, sounding.get(sound_key, t_wall))
    if not spans:
        return
    connection, statements = db.connection(), _statements(db)
    connection.execute(statements.session_span, [
        {"b_id": key, "b_first": span.first, "b_last": span.last} for key, span in spans.items()])
    if started:
        connection.execute(statements.session_started,
                           [{"b_id": key, "b_at": at} for key, at in started.items()])
    if ended:
        connection.execute(statements.session_ended,
                           [{"b_id": key, "b_at": at} for key, at in ended.items()])
    connection.execute(statements.participants, [
        {"session_id": session_id, "client": client, "station_id": station_id,
         "first_t_wall": part.first, "last_t_wall": part.last}
        for (session_id, client, station_id), part in taking_part.items()])
    connection.execute(statements.sound_sets, [
        {"session_id": session_id, "station_id": station_id, "sound_set": sound_set,
         "first_t_wall": first}
        for (session_id, station_id, sound_set), first in sounding.items()])


def _follow_seqs(
    db: Session, stations: dict[StationKey, Station], records: list[EventRecord]
) -> list[EventRecord]:
    """Move each station's highest seq and its gaps; the events whose seq was already used."""
    reused: list[EventRecord] = []
    by_station: dict[int, list[EventRecord]] = {}
    for record in records:
        by_station.setdefault(stations[record.station].id, []).append(record)
    if not by_station:
        return reused
    stored: dict[int, list[SeqRange]] = {key: [] for key in by_station}
    for row in db.execute(select(StoredGap.station_id, StoredGap.from_seq, StoredGap.to_seq)
                          .where(StoredGap.station_id.in_(by_station))):
        stored[row.station_id].append(SeqRange(row.from_seq, row.to_seq))
    by_id = {station.id: station for station in stations.values()}
    gone: list[dict[str, int]] = []
    opened: list[dict[str, int]] = []
    for station_id, arrived in by_station.items():
        station = by_id[station_id]
        before = tuple(sorted(stored[station_id]))
        highest, missing = station.highest_seq, before
        for record in sorted(arrived, key=lambda record: record.message["seq"]):
            seq = record.message["seq"]
            if seq == highest + 1:  # the usual next one: what `arrive` gives, sooner
                highest = seq
                continue
            arrival = arrive(highest, missing, seq)
            highest, missing = arrival.highest, arrival.missing
            if arrival.known:
                reused.append(record)
        station.highest_seq = highest
        gone += ({"b_station": station_id, "b_from": gap.first}
                 for gap in set(before) - set(missing))
        opened += ({"station_id": station_id, "from_seq": gap.first, "to_seq": gap.last}
                   for gap in sorted(set(missing) - set(before)))
    connection = db.connection()
    if gone:
        connection.execute(_statements(db).gap_closed, gone)
    if opened:
        connection.execute(_statements(db).gap_opened, opened)
    return reused


def _seen(station: Station, received: float, retained: bool) -> None:
    if not retained:
        station.last_seen = _latest(station.last_seen, received)


def _status(station: Station, record: StatusRecord) -> None:
    if station.status != record.status:
        station.status = record.status
        station.status_since = record.received
    _seen(station, record.received, record.retained)


def _summary(db: Session, station: Station, record: SummaryRecord) -> None:
    summary = record.summary
    session = db.get(TherapySession, summary["session"])
    if session is None:
        session = TherapySession(id=summary["session"])
        db.add(session)
    if session.ended_by is None and summary.get("ended_by"):
        session.ended_by = summary["ended_by"]
    stored = db.get(SessionSummary, (summary["session"], station.id))
    if stored is None:
        db.add(SessionSummary(session_id=summary["session"], station_id=station.id,
                              summary=summary, received=record.received))
    elif stored.summary != summary:
        stored.summary, stored.received = summary, record.received
    _seen(station, record.received, record.retained)
    db.flush()


def _count(db: Session, counted: Counter[IngestReason], last: dict[IngestReason, Refusal]) -> None:
    for reason, number in sorted(counted.items()):
        if not number:
            continue
        refusal = last[reason]
        values = {"reason": reason.value, "count": number, "last_received": refusal.received,
                  "last_topic": refusal.topic[:512], "last_problem": refusal.problem[:200]}
        statement = dialect_insert(db, IngestCounter).values(values)
        db.execute(statement.on_conflict_do_update(
            index_elements=[IngestCounter.reason],
            set_={"count": IngestCounter.count + number,
                  "last_received": statement.excluded.last_received,
                  "last_topic": statement.excluded.last_topic,
                  "last_problem": statement.excluded.last_problem}))
