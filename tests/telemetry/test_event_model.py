"""What each published event tells a therapist: press and release times, holds, gaps."""

from __future__ import annotations

from typing import Any

from station.config import LoadedStation
from station.contract import schemas
from station.contract.events import EventType
from station.contract.topics import Topics
from station.telemetry.agent import TelemetryAgent
from station.telemetry.eventlog import EventRecorder


def deliver_everything(agent: TelemetryAgent, port: int) -> None:
    agent.client.connect("127.0.0.1", port)
    agent.client.loop_start()
    assert agent.connected.wait(10)
    while agent.deliver_once():
        pass


def test_presses_carry_the_gap_and_releases_the_press_time(
    station: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.events])
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.record(EventType.PRESS, "big-red", None, 100.0)
    recorder.record(EventType.RELEASE, "big-red", None, 100.4, 400.0)
    recorder.record(EventType.REJECTED, "big-red", "lockout", 100.5)
    recorder.record(EventType.PRESS, "big-blue", None, 102.25)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.record(EventType.PRESS, "big-red", None, 110.0)
    recorder.close()

    agent = TelemetryAgent(station)
    try:
        deliver_everything(agent, mosquitto.port)
    finally:
        agent.client.disconnect()
        agent.client.loop_stop()
    events = subscriber.wait_for_events(topics.events, lambda events: len(events) >= 7)
    presses = [e for e in events if e["type"] == EventType.PRESS]
    assert "gap_ms" not in presses[0], "the first press of a session has no gap"
    assert presses[1]["gap_ms"] == 2250.0
    assert "gap_ms" not in presses[2], "a new session starts without a gap"
    release = next(e for e in events if e["type"] == EventType.RELEASE)
    assert release["hold_ms"] == 400.0
    assert release["press_t_mono"] == presses[0]["t_mono"]
    assert abs(release["press_t_wall"] - (release["t_wall"] - 0.4)) < 1e-6
    rejected = next(e for e in events if e["type"] == EventType.REJECTED)
    assert rejected["reason"] == "lockout" and rejected["input"] == "big-red"
    for event in events:
        assert not schemas.problems("event", event), event
    assert len({e["id"] for e in events}) == len(events)
    assert [e["seq"] for e in events] == list(range(1, 8))


def test_the_gap_survives_an_agent_restart(
    station: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.events])
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.record(EventType.PRESS, "big-red", None, 50.0)
    assert recorder.flush()
    first = TelemetryAgent(station)
    deliver_everything(first, mosquitto.port)
    first.client.disconnect()
    first.client.loop_stop()

    recorder.record(EventType.PRESS, "big-red", None, 51.5)
    recorder.close()
    second = TelemetryAgent(station)
    try:
        deliver_everything(second, mosquitto.port)
    finally:
        second.client.disconnect()
        second.client.loop_stop()
    events = subscriber.wait_for_events(topics.events, lambda events: len(events) >= 3)
    assert events[-1]["gap_ms"] == 1500.0
