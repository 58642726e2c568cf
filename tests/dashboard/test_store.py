"""The store on real SQLite and real PostgreSQL: schema by Alembic, idempotent writes, sessions
keyed by client, seq gaps, counters."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from station.dashboard.store import (
    EventRecord,
    IngestReason,
    LiveRecord,
    Refusal,
    SeqGap,
    StateRecord,
    StationKey,
    StatusRecord,
    Store,
    SummaryRecord,
)
from station.dashboard.store.database import (
    DatabaseError,
    alembic_config,
    database_url,
    downgrade,
    migrate,
    open_engine,
)
from station.dashboard.store.models import (
    Base,
    SessionParticipant,
    SessionSoundSet,
    SessionSummary,
    TherapySession,
)
from tests.dashboard.helpers import event, snapshot

ROOM_1 = StationKey("demo-site", "room-1")
ROOM_2 = StationKey("demo-site", "room-2")
TABLES = {"alembic_version", "stations", "clients", "sessions", "session_participants",
          "session_sound_sets", "session_summaries", "events", "seq_gaps", "ingest_counters",
          "users", "assignments", "login_sessions", "audit_log", "session_notes"}


def _records(station: StationKey, *messages: dict[str, Any]) -> list[EventRecord]:
    return [EventRecord(station, message, received=2000.0) for message in messages]


def test_migrations_build_from_empty_exactly_what_the_models_say(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        migrate(engine)
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        command.check(alembic_config(engine))  # `alembic check`: raises on any difference
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate(engine)
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Any) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'dashboard.sqlite3'}")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        store.close()


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://host/db", "the dashboard stores its data in SQLite"),
    ("not a url", "cannot be read"),
])
def test_a_database_url_of_another_kind_is_refused_in_words(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message):
        database_url(url)


def test_a_postgresql_url_gets_psycopg_3_and_hides_its_password() -> None:
    assert database_url("postgresql://u:p@h/db").get_driver_name() == "psycopg"
    with pytest.raises(DatabaseError) as raised:
        database_url("mysql://user:secret@host/db")
    assert "secret" not in str(raised.value)


def test_an_event_written_twice_is_stored_once_and_nothing_else_changes(store: Store) -> None:
    first, second = event(1, "session_start"), event(2)
    result = store.write(_records(ROOM_1, first, second))
    assert result.stored == 2
    before = snapshot(store)
    again = store.write(_records(ROOM_1, second, second))
    assert again.stored == 0 and again.count(IngestReason.DUPLICATE) == 2
    after = snapshot(store)
    counters = after.pop("ingest_counters")
    before.pop("ingest_counters")
    assert after == before
    assert [row[:2] for row in counters] == [("duplicate", 2)]
    assert store.events() == [first, second]


def test_a_large_batch_with_old_and_repeated_events_stores_each_once(store: Store) -> None:
    """One batch as ingest writes it when busy: many stations, events already stored, and
    the same event twice within the batch (a redelivery that came before the ack)."""
    stations = [StationKey("demo-site", f"room-{number}") for number in range(1, 6)]
    messages = {key: [event(seq, "session_start" if seq == 1 else "press", station=key.name,
                            session=f"s-{key.name}") for seq in range(1, 201)]
                for key in stations}
    early = [record for key in stations for record in _records(key, *messages[key][:50])]
    assert store.write(early).stored == 250
    batch = [record for key in stations for record in _records(key, *messages[key])]
    batch += [record for key in stations for record in _records(key, *messages[key][150:160])]
    batch.reverse()  # any order: the newest first
    result = store.write(batch)
    assert result.stored == 750
    assert result.count(IngestReason.DUPLICATE) == 250 + 50
    assert store.counters() == {IngestReason.DUPLICATE: 300}
    assert store.event_count() == 1000
    assert store.gaps() == []
    views = {view.station: view for view in store.stations()}
    assert {key: views[key].highest_seq for key in stations} == {key: 200 for key in stations}
    assert all(views[key].last_seen == 2000.0 for key in stations)
    with store.transaction() as db:
        parts = db.scalars(select(SessionParticipant)).all()
        sessions = {row.id: row for row in db.scalars(select(TherapySession))}
    assert len(parts) == 5
    for key in stations:
        session = sessions[f"s-{key.name}"]
        assert (session.started_t_wall, session.first_t_wall, session.last_t_wall) == (
            messages[key][0]["t_wall"], messages[key][0]["t_wall"], messages[key][-1]["t_wall"])
    before = snapshot(store)
    again = store.write(batch)
    assert again.stored == 0 and again.count(IngestReason.DUPLICATE) == len(batch)
    after = snapshot(store)
    after.pop("ingest_counters"), before.pop("ingest_counters")
    assert after == before


def test_a_stored_event_reads_back_exactly_as_published(store: Store) -> None:
    messages = [
        event(1, "session_start", detail={"audio_backend": "null", "pid": 7, "volume": 0.6}),
        event(2, "press", gap_ms=1234.5),
        event(3, "release"),
        event(4, "rejected"),
        event(5, "observation", detail={"tag": "independent", "note": "reached across"}),
        event(6, "station_status", session="", detail={"engine": "stopped"}),
    ]
    store.write(_records(ROOM_1, *messages))
    assert store.events(ROOM_1) == messages


def test_seq_gaps_are_found_per_station_and_close_as_events_arrive(store: Store) -> None:
    store.write(_records(ROOM_1, *(event(seq) for seq in (3, 4, 7, 10))))
    store.write(_records(ROOM_2, event(1, station="room-2"), event(2, station="room-2")))
    assert store.gaps() == [SeqGap(ROOM_1, 1, 2), SeqGap(ROOM_1, 5, 6), SeqGap(ROOM_1, 8, 9)]
    store.write(_records(ROOM_1, event(5), event(9), event(1)))
    assert store.gaps(ROOM_1) == [SeqGap(ROOM_1, 2, 2), SeqGap(ROOM_1, 6, 6),
                                  SeqGap(ROOM_1, 8, 8)]
    assert store.gaps(ROOM_2) == []
    assert {view.station: view.highest_seq for view in store.stations()} == {
        ROOM_1: 10, ROOM_2: 2}


def test_a_seq_used_again_by_a_new_event_is_stored_and_counted(store: Store) -> None:
    store.write(_records(ROOM_1, event(1), event(2)))
    result = store.write(_records(ROOM_1, event(2)))
    assert result.stored == 1 and result.count(IngestReason.SEQ_REUSED) == 1
    assert store.counters() == {IngestReason.SEQ_REUSED: 1}
    assert len(store.events()) == 3


def test_a_group_session_keys_its_data_by_client_and_station(store: Store) -> None:
    session = "group-1"
    store.write(_records(ROOM_1, event(1, "session_start", session=session),
                         event(2, session=session, client="C-7F3K")))
    store.write(_records(ROOM_2, event(1, "session_start", station="room-2", session=session,
                                       client="C-2M9Q"),
                         event(2, station="room-2", session=session, client="C-2M9Q",
                               sound_set="drums"),
                         event(3, "session_end", station="room-2", session=session,
                               client="C-2M9Q")))
    # A second client takes over room-1 within the same session.
    store.write(_records(ROOM_1, event(3, session=session, client="C-9ZZZ")))
    with store.transaction() as db:
        participants = {(row.client, row.station_id) for row in db.scalars(
            select(SessionParticipant).where(SessionParticipant.session_id == session))}
        sound_sets = {row.sound_set for row in db.scalars(select(SessionSoundSet))}
        row = db.get(TherapySession, session)
        assert row is not None
        started, ended, ended_by = row.started_t_wall, row.ended_t_wall, row.ended_by
    ids = {view.station: index for index, view in enumerate(store.stations(), start=1)}
    assert participants == {("C-7F3K", ids[ROOM_1]), ("C-9ZZZ", ids[ROOM_1]),
                            ("C-2M9Q", ids[ROOM_2])}
    assert sound_sets == {"calm-bells", "drums"}
    assert started == 1764075601.0 and ended == 1764075603.0 and ended_by == "session_end"


def test_events_in_any_order_give_the_same_session(store: Store) -> None:
    start, press, end = event(1, "session_start"), event(2), event(3, "session_end")
    store.write(_records(ROOM_1, end))
    store.write(_records(ROOM_1, press, start))
    with store.transaction() as db:
        session = db.get(TherapySession, start["session"])
        assert session is not None
        assert (session.started_t_wall, session.ended_t_wall) == (start["t_wall"],
                                                                 end["t_wall"])
        assert (session.first_t_wall, session.last_t_wall) == (start["t_wall"],
                                                               end["t_wall"])


def test_status_state_and_summary_are_kept_per_station(store: Store) -> None:
    state = {"client": "C-7F3K", "sound_set": "calm-bells", "volume": 0.6, "session": "s1"}
    summary = {"session": "s1", "client": "C-7F3K", "sound_set": "calm-bells",
               "started_t_wall": 10.0, "ended_t_wall": None, "ended_by": "interrupted",
               "duration_s": 5.0, "counts": {}, "accepted": 0, "rejected": {}}
    store.write([StatusRecord(ROOM_1, "online", 100.0), StateRecord(ROOM_1, state, 101.0),
                 SummaryRecord(ROOM_1, summary, 102.0, retained=True)])
    store.write([StatusRecord(ROOM_1, "online", 150.0, retained=True)])
    [view] = store.stations()
    assert (view.status, view.status_since, view.last_seen, view.state) == (
        "online", 100.0, 101.0, state)
    store.write([StatusRecord(ROOM_1, "offline", 200.0)])
    [view] = store.stations()
    assert (view.status, view.status_since, view.last_seen) == ("offline", 200.0, 200.0)
    with store.transaction() as db:
        stored = db.scalars(select(SessionSummary)).one()
        assert stored.summary == summary
        session = db.get(TherapySession, "s1")
        assert session is not None and session.ended_by == "interrupted"


def test_refusals_are_counted_by_reason_with_the_last_problem(store: Store) -> None:
    store.write([
        Refusal(IngestReason.NOT_JSON, "sensory/v1/a/b/events", "not JSON: x", 1.0),
        Refusal(IngestReason.NOT_JSON, "sensory/v1/a/c/events", "not JSON: y", 2.0),
        Refusal(IngestReason.SCHEMA, "sensory/v1/a/b/state", "volume: too big", 3.0),
    ])
    store.write([Refusal(IngestReason.NOT_JSON, "sensory/v1/a/d/events", "not JSON: z", 4.0)])
    assert store.counters() == {IngestReason.NOT_JSON: 3, IngestReason.SCHEMA: 1}
    rows = {row.reason: row for row in store.counter_rows()}
    assert (rows["not_json"].last_topic, rows["not_json"].last_problem,
            rows["not_json"].last_received) == ("sensory/v1/a/d/events", "not JSON: z", 4.0)
    assert store.event_count() == 0 and store.stations() == []


def test_a_record_the_database_refuses_is_counted_and_the_rest_stored(store: Store) -> None:
    good, bad = event(1), event(2, "rejected", reason="\ud800")
    with pytest.raises(Exception):  # noqa: B017 (each driver names its refusal differently)
        store.write(_records(ROOM_1, good, bad))
    assert store.event_count() == 0
    result = store.write_each(_records(ROOM_1, good, bad), received=3000.0)
    assert result.stored == 1 and result.count(IngestReason.UNSTORABLE) == 1
    assert store.events() == [good]
    [row] = store.counter_rows()
    assert (row.reason, row.last_topic, row.last_received) == (
        "unstorable", "demo-site/room-1", 3000.0)


def test_the_retained_counts_aggregates_and_health_are_kept_per_station(store: Store) -> None:
    counts = {"session": "s1", "client": "C-7F3K", "counts": {"big-red": 2}}
    health = {"t_wall": 5.0, "backlog": 3, "delivered_seq": 4, "recorded_seq": 7,
              "disk_free_mb": 80.0, "disk_low": True, "retention_days": 30}
    store.write([LiveRecord(ROOM_1, "counts", counts, 100.0, retained=True),
                 LiveRecord(ROOM_1, "health", health, 101.0)])
    [view] = store.stations()
    assert (view.counts, view.health, view.aggregates, view.last_seen) == (
        counts, health, None, 101.0)
    newer = {**counts, "counts": {"big-red": 3}}
    store.write([LiveRecord(ROOM_1, "counts", newer, 102.0)])
    assert store.stations()[0].counts == newer


def test_a_database_of_the_first_schema_keeps_its_data_through_the_upgrade(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    try:
        migrate(engine, "0001")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO stations (site, name, status, highest_seq) "
                "VALUES ('demo-site', 'room-1', 'online', 7)"))
        migrate(engine)
        [view] = Store(engine).stations()
        assert (view.station, view.status, view.highest_seq, view.counts) == (
            ROOM_1, "online", 7, None)
    finally:
        engine.dispose()
