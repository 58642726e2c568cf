"""A dashboard that missed events (down longer than the broker kept them) asks the station to
replay its gaps, and ends with every event the station still has."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from station.config import LoadedStation
from station.contract.events import EventType
from station.contract.topics import Topics
from station.dashboard.ingest import IngestSettings
from station.dashboard.replay import GapFiller
from station.dashboard.store import SeqGap, Store
from station.dashboard.store.records import StationKey
from station.telemetry.agent import TelemetryAgent
from station.telemetry.eventlog import EVENTS_FILE, EventRecorder, iterate_all

from .conftest import wait_until


@pytest.fixture
def filler_factory(mosquitto: Any) -> Iterator[Any]:
    made: list[GapFiller] = []

    def make(store: Store) -> GapFiller:
        filler = GapFiller(store, IngestSettings(host="127.0.0.1", port=mosquitto.port))
        made.append(filler)
        filler.start(every=0.2)
        assert filler.connected.wait(10), "the gap filler did not connect"
        return filler

    yield make
    for filler in made:
        filler.stop()


def _record_presses(station: LoadedStation, count: int) -> None:
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    for number in range(count):
        recorder.record(EventType.PRESS, "big-red", None, 10.0 + number)
    recorder.close()


def _record_delivered_presses(station: LoadedStation, subscriber_factory: Any, mosquitto: Any,
                              count: int) -> None:
    """Record a session start and `count` presses, and wait until the agent delivered them
    (watched from before the first is recorded)."""
    config = station.config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    watcher = subscriber_factory(mosquitto.port, [topics.events])
    _record_presses(station, count)
    watcher.wait_for_events(topics.events, lambda events: len(events) >= count + 1)


def test_a_dashboard_that_missed_events_gets_them_replayed(
    agent_station: LoadedStation, running_agent: TelemetryAgent, store: Store,
    ingest_factory: Any, filler_factory: Any, subscriber_factory: Any, mosquitto: Any,
) -> None:
    key = StationKey(agent_station.config.station.site, agent_station.config.station.id)
    # seq 1..21, delivered while no dashboard listened
    _record_delivered_presses(agent_station, subscriber_factory, mosquitto, 20)
    ingest = ingest_factory(store)
    recorder = EventRecorder(agent_station.data_dir)
    recorder.set_context(client="C-7F3K", sound_set="calm-bells")
    recorder.record(EventType.PRESS, "big-blue", None)  # seq 22: the dashboard hears this one
    recorder.close()
    wait_until(lambda: store.gaps() == [SeqGap(key, 1, 21)], what="the gap is noticed")

    filler = filler_factory(store)
    assert ingest.wait_for(lambda: store.event_count() == 22 and not store.gaps(), 30), (
        f"{store.event_count()} of 22 events stored; gaps {store.gaps()}")
    station_log = [(e.id, e.seq) for e in iterate_all(agent_station.data_dir)]
    assert [(e["id"], e["seq"]) for e in store.events(key)] == station_log
    wait_until(lambda: filler.replayed == 21 and not filler.asked, what="the replay's ack")
    assert filler.lost == {}


def test_what_the_station_no_longer_has_is_reported_lost_and_not_asked_again(
    agent_station: LoadedStation, running_agent: TelemetryAgent, store: Store,
    ingest_factory: Any, filler_factory: Any, subscriber_factory: Any, mosquitto: Any,
) -> None:
    key = StationKey(agent_station.config.station.site, agent_station.config.station.id)
    _record_delivered_presses(agent_station, subscriber_factory, mosquitto, 20)
    # The station's retention deletes delivered events, oldest first: here seq 1 to 5.
    with sqlite3.connect(agent_station.data_dir / EVENTS_FILE) as log_db:
        log_db.execute("DELETE FROM events WHERE seq <= 5")
    ingest = ingest_factory(store)
    recorder = EventRecorder(agent_station.data_dir)
    recorder.set_context(client="C-7F3K", sound_set="calm-bells")
    recorder.record(EventType.PRESS, "big-blue", None)
    recorder.close()
    wait_until(lambda: store.gaps() == [SeqGap(key, 1, 21)], what="the gap is noticed")

    filler = filler_factory(store)
    assert ingest.wait_for(lambda: store.gaps() == [SeqGap(key, 1, 5)], 30)
    wait_until(lambda: filler.lost == {key: [(1, 5)]}, what="the station's answer")
    asked_before = len(filler.asked)
    filler.check_once()
    assert len(filler.asked) == asked_before == 0, "a range the station lacks is not asked again"
    assert store.event_count() == 17
