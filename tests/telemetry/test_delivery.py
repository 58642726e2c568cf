"""The event log and the telemetry agent against a real mosquitto broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from station.contract.events import EventType
from station.contract.topics import Topics
from station.telemetry.agent import TelemetryAgent
from station.telemetry.eventlog import DeliveryCursor, EventRecorder, iterate_all


def test_recorded_events_are_durable_and_in_order(tmp_path: Path) -> None:
    recorder = EventRecorder(tmp_path)
    session = recorder.start_session("C-7F3K", "calm-bells", {"audio_backend": "null"})
    recorder.record(EventType.PRESS, "big-red", None, 5.0)
    recorder.record(EventType.RELEASE, "big-red", None, 5.4, 400.0)
    recorder.close()

    events = list(iterate_all(tmp_path))  # a new connection: what a restart would find
    assert [e.type for e in events] == [EventType.SESSION_START, EventType.PRESS, EventType.RELEASE]
    assert [e.seq for e in events] == [1, 2, 3]
    assert {e.session for e in events} == {session}
    assert {e.client for e in events} == {"C-7F3K"}
    assert len({e.id for e in events}) == 3, "every event has its own id"
    assert events[2].hold_ms == 400.0
    assert events[0].detail == {"audio_backend": "null"}


def test_delivery_cursor_survives_a_restart(tmp_path: Path) -> None:
    cursor = DeliveryCursor(tmp_path)
    cursor.advance(41)
    cursor.advance(12)  # never backwards
    cursor.close()
    assert DeliveryCursor(tmp_path).seq == 41


def _topics(station: Any) -> Topics:
    config = station.config
    return Topics(config.mqtt.topic_root, config.station.site, config.station.id)


def test_agent_publishes_events_counts_and_online_status(
    agent_station: Any, running_agent: TelemetryAgent, mosquitto: Any, subscriber_factory: Any
) -> None:
    topics = _topics(agent_station)
    subscriber = subscriber_factory(mosquitto.port, [f"{topics.base}/#"])
    recorder = EventRecorder(agent_station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    for name in ("big-red", "big-blue", "big-red"):
        recorder.record(EventType.PRESS, name, None)
    recorder.close()

    events = subscriber.wait_for_events(topics.events, lambda events: len(events) >= 4)
    assert [e["type"] for e in events] == [
        EventType.SESSION_START, EventType.PRESS, EventType.PRESS, EventType.PRESS
    ]
    assert all(e["client"] == "C-7F3K" and e["station"] == "room-1" for e in events)
    subscriber.wait_for(
        lambda topic, payload: topic == topics.counts
        and json.loads(payload)["counts"] == {"big-red": 2, "big-blue": 1}
    )
    subscriber.wait_for(
        lambda topic, payload: topic == topics.input_presses("big-red") and payload == b"2"
    )
    subscriber.wait_for(lambda topic, payload: topic == topics.status and payload == b"online")


def test_presses_during_a_broker_outage_all_arrive_after_it_returns(
    agent_station: Any, running_agent: TelemetryAgent, mosquitto: Any, subscriber_factory: Any
) -> None:
    topics = _topics(agent_station)
    subscriber = subscriber_factory(mosquitto.port, [topics.events], client_id="dashboard-test")
    recorder = EventRecorder(agent_station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    subscriber.wait_for_events(topics.events, lambda events: len(events) >= 1)

    mosquitto.stop()
    for _ in range(100):
        recorder.record(EventType.PRESS, "big-red", None)
    mosquitto.start()
    recorder.record(EventType.PRESS, "big-blue", None)
    recorder.close()

    events = subscriber.wait_for_events(
        topics.events, lambda events: len({e["id"] for e in events}) >= 102, timeout=60
    )
    presses = [e for e in events if e["type"] == EventType.PRESS]
    assert len({e["id"] for e in presses}) == 101, "none missing"
    first_seen = list(dict.fromkeys(e["seq"] for e in events))
    assert first_seen == sorted(first_seen), "order kept"
    by_id: dict[str, Any] = {}
    for event in events:
        assert by_id.setdefault(event["id"], event) == event, "a duplicate is the same event"


def test_counts_restart_from_the_log_when_the_agent_restarts(
    agent_station: Any, mosquitto: Any, subscriber_factory: Any
) -> None:
    recorder = EventRecorder(agent_station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.record(EventType.PRESS, "big-red", None)
    recorder.record(EventType.PRESS, "big-red", None)
    recorder.close()
    first = TelemetryAgent(agent_station)
    first.client.connect("127.0.0.1", mosquitto.port)
    first.client.loop_start()
    assert first.connected.wait(10)
    while first.deliver_once():
        pass
    first.client.disconnect()
    first.client.loop_stop()

    second = TelemetryAgent(agent_station)
    assert second.counts.counts == {"big-red": 2}
    assert second.cursor.seq == 3, "delivered events are not sent again"
