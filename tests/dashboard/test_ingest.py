"""Ingest with real parts: mosquitto, `station run --simulate`, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from station.bench._postgres import PostgresServer
from station.config import load_station
from station.contract.topics import Topics
from station.dashboard.store import IngestReason, SeqGap, StationKey, Store
from station.dashboard.store.models import SessionParticipant, SessionSummary, TherapySession
from station.telemetry.eventlog import iterate_all
from tests.dashboard.conftest import Publisher, wait_until
from tests.dashboard.helpers import ROOT, event, events_topic, snapshot
from tests.telemetry.conftest import StationProcess

ROOM = StationKey("demo-site", "room-1")


def test_a_real_stations_events_arrive_in_the_store_exactly_once(
    store: Store, ingest_factory: Any, station_config: Any, mosquitto: Any,
    subscriber_factory: Any, tmp_path: Path,
) -> None:
    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "null"})
    config = load_station(path).config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    ingest = ingest_factory(store)
    watcher = subscriber_factory(mosquitto.port, [topics.events])
    station = StationProcess(["run", "--simulate", "--config", str(path)])
    station.start()
    try:
        assert ingest.wait_for(
            lambda: any(e["type"] == "session_start" for e in store.events()), 30)
        for count, name in enumerate(("big-red", "big-blue", "big-red"), start=1):
            station.write(f"press {name}\n")
            assert ingest.wait_for(lambda count=count: len(
                [e for e in store.events() if e["type"] == "press"]) == count, 10)
            station.write(f"release {name}\n")
        # The session control, held 2 s, ends the session.
        station.write("press session\n")
        assert ingest.wait_for(
            lambda: any(e["type"] == "session_end" for e in store.events()), 15)
        station.write("release session\n")
    finally:
        assert station.stop() == 0, station.log
    # `station run` stops the engine first; the agent then delivers its last events (the
    # session's end, the clean stop) before it goes offline.
    recorded = {e.id: e.seq for e in iterate_all(tmp_path / "data")}
    assert ingest.wait_for(lambda: store.event_count() == len(recorded), 20), (
        f"{store.event_count()} of the station's {len(recorded)} events stored")

    stored = store.events(ROOM)
    assert {e["id"]: e["seq"] for e in stored} == recorded
    assert [e["seq"] for e in stored] == list(range(1, len(recorded) + 1))
    published = {e["id"]: e for e in watcher.events(topics.events)}
    assert stored == sorted(published.values(), key=lambda e: e["seq"])
    assert store.gaps() == []
    assert [e["input"] for e in stored if e["type"] == "press"] == [
        "big-red", "big-blue", "big-red"]
    [session] = {e["session"] for e in stored if e["type"] == "session_start"}
    with store.transaction() as db:
        row = db.get(TherapySession, session)
        assert row is not None and row.ended_by == "session_end"
        participants = db.scalars(select(SessionParticipant.client).where(
            SessionParticipant.session_id == session)).all()
        summary = db.scalars(select(SessionSummary.summary)).one()
    assert participants == ["C-7F3K"]
    assert summary["session"] == session and summary["counts"] == {"big-red": 2, "big-blue": 1}
    assert ingest.wait_for(lambda: store.stations()[0].status == "offline", 10)


def test_an_event_delivered_twice_changes_nothing(
    store: Store, ingest_factory: Any, publisher: Publisher
) -> None:
    ingest = ingest_factory(store)
    message = event(1, "session_start")
    publisher.publish(events_topic(), message)
    assert ingest.wait_for(lambda: store.event_count() == 1, 10)
    before = snapshot(store)
    publisher.publish(events_topic(), message)
    assert ingest.wait_for(lambda: store.counters().get(IngestReason.DUPLICATE) == 1, 10)
    after = snapshot(store)
    assert [row[:2] for row in after.pop("ingest_counters")] == [("duplicate", 1)]
    before.pop("ingest_counters")
    assert after == before
    assert store.events() == [message]


def test_malformed_messages_are_counted_by_reason_and_stored_nowhere(
    store: Store, ingest_factory: Any, publisher: Publisher
) -> None:
    ingest = ingest_factory(store)
    publisher.publish(events_topic(), b"{\"id\": ")
    publisher.publish(events_topic(), b"\xc3\x28")
    publisher.publish(events_topic(), {**event(1), "seq": 0})
    publisher.publish(events_topic(), {**event(2), "volume": 2})
    publisher.publish(events_topic(), json.dumps(event(3)) + " " * 9000)
    publisher.publish(events_topic(), event(4, station="room-9"))
    publisher.publish(f"{ROOT}/demo-site/room-1/status", b"maybe")
    publisher.publish(f"{ROOT}/demo-site/room-1/state", {"client": "C-7F3K"})
    expected = {IngestReason.NOT_JSON: 1, IngestReason.NOT_UTF8: 1, IngestReason.SCHEMA: 4,
                IngestReason.OVERSIZED: 1, IngestReason.WRONG_STATION: 1}
    assert ingest.wait_for(lambda: store.counters() == expected, 10), store.counters()
    assert store.event_count() == 0 and store.stations() == [] and store.gaps() == []
    problems = {row.reason: row.last_problem for row in store.counter_rows()}
    assert problems["wrong_station"] == (
        "an event of demo-site/room-9 on the topic of demo-site/room-1")
    assert problems["oversized"].endswith("bytes; event messages take at most 8192")


def test_a_seq_gap_is_detected_and_reported_as_a_range(
    store: Store, ingest_factory: Any, publisher: Publisher
) -> None:
    ingest = ingest_factory(store)
    for seq in (1, 2, 6, 7, 9):
        publisher.publish(events_topic(), event(seq))
    assert ingest.wait_for(lambda: store.event_count() == 5, 10)
    assert ingest.gaps() == [SeqGap(ROOM, 3, 5), SeqGap(ROOM, 8, 8)]
    publisher.publish(events_topic(), event(4))
    publisher.publish(events_topic(), event(8))
    assert ingest.wait_for(lambda: store.event_count() == 7, 10)
    assert ingest.gaps() == [SeqGap(ROOM, 3, 3), SeqGap(ROOM, 5, 5)]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_events_published_while_ingest_is_away_arrive_when_it_is_back(
    store: Store, ingest_factory: Any, publisher: Publisher, protocol: str
) -> None:
    first = ingest_factory(store, protocol=protocol)
    first.stop()
    messages = [event(seq) for seq in range(1, 6)]
    for message in messages:
        publisher.publish(events_topic(), message)
    second = ingest_factory(store, protocol=protocol)
    assert second.wait_for(lambda: store.event_count() == 5, 10)
    assert store.events() == messages


def test_messages_the_database_could_not_take_come_again_from_the_broker(
    ingest_factory: Any, publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    """Acknowledged only once committed: with the database down, the broker keeps them."""
    server = PostgresServer()
    try:
        server.start()
        store = Store.open(server.create_database())
        first = ingest_factory(store)
        server.stop()
        messages = [event(seq) for seq in range(1, 4)]
        caplog.set_level(logging.ERROR, logger="station.dashboard.ingest")
        for message in messages:
            publisher.publish(events_topic(), message)
        wait_until(lambda: "cannot be written" in caplog.text, 10,
                   "ingest noticing the database is down")
        first.stop()  # gives up on the batch it holds: not acknowledged
        server.start()
        second = ingest_factory(store)
        assert second.wait_for(lambda: store.event_count() == 3, 15)
        assert store.events() == messages

        # The same ingest also catches up by itself once the database is back.
        server.stop()
        later = event(4)
        publisher.publish(events_topic(), later)
        wait_until(lambda: caplog.text.count("cannot be written") >= 2, 10)
        server.start()
        assert second.wait_for(lambda: store.event_count() == 4, 15)
        store.close()
    finally:
        server.remove()
