"""The whole station (`station run`) against a real broker that goes away, and crashes."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from station.config import LoadedStation, load_station
from station.contract.events import EventType
from station.contract.topics import Topics
from station.telemetry.eventlog import iterate_all

from .conftest import StationProcess

PRESSES = 500


@pytest.fixture
def instant_switches(station: LoadedStation) -> LoadedStation:
    """The station's client without debounce or lockout, so that presses piped in as fast as
    the engine reads them are all accepted (the test counts presses, not the filter)."""
    profile = station.path.parent / "clients" / "C-7F3K.toml"
    profile.write_text(profile.read_text().replace("debounce_ms = 20", "debounce_ms = 0"))
    return load_station(station.path)


def press_lines(count: int) -> str:
    return "press big-red\nrelease big-red\n" * count


def check_delivered(events: list[dict[str, Any]], data_dir: Path) -> list[dict[str, Any]]:
    """Every recorded press delivered, in order, duplicates only as copies; the presses."""
    by_id: dict[str, Any] = {}
    for event in events:
        assert by_id.setdefault(event["id"], event) == event, "a duplicate is the same event"
    first_seen = list(dict.fromkeys(event["seq"] for event in events))
    assert first_seen == sorted(first_seen), "order kept"
    recorded = {e.id for e in iterate_all(data_dir) if e.type == EventType.PRESS}
    delivered = {e["id"] for e in events if e["type"] == EventType.PRESS}
    assert recorded <= delivered, f"{len(recorded - delivered)} recorded presses not delivered"
    return [e for e in by_id.values() if e["type"] == EventType.PRESS]


def test_presses_during_a_broker_outage_all_reach_a_subscriber(
    instant_switches: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.events], client_id="dashboard")
    station = StationProcess(["run", "--simulate", "--config", str(instant_switches.path)])
    station.start()
    try:
        subscriber.wait_for_events(topics.events, lambda events: any(
            e["type"] == "session_start" for e in events), timeout=30)
        station.write(press_lines(PRESSES // 2))
        mosquitto.stop()
        station.write(press_lines(PRESSES // 2))
        mosquitto.start()
        events = subscriber.wait_for_events(topics.events, lambda events: len(
            {e["id"] for e in events if e["type"] == EventType.PRESS}) >= PRESSES, timeout=90)
    finally:
        assert station.stop() == 0, station.log
    presses = check_delivered(events, instant_switches.data_dir)
    assert len(presses) == PRESSES, "none missing"
    assert "lost the MQTT broker" in station.log


def test_killed_agent_then_killed_engine_lose_no_recorded_press(
    instant_switches: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.events], client_id="dashboard")
    station = StationProcess(["run", "--simulate", "--config", str(instant_switches.path)])
    station.start()
    try:
        subscriber.wait_for_events(topics.events, lambda events: any(
            e["type"] == "session_start" for e in events), timeout=30)
        station.write(press_lines(200))
        os.kill(station.children()["agent"], signal.SIGKILL)
        station.write(press_lines(200))
        subscriber.wait_for_events(topics.events, lambda events: len(
            {e["id"] for e in events if e["type"] == EventType.PRESS}) >= 400, timeout=60)
        station.write(press_lines(200))
        os.kill(station.children()["engine"], signal.SIGKILL)
        # Read by the restarted engine; the last press, on another input, marks the end: the
        # engine reads lines in order and the agent delivers events in order.
        station.write(press_lines(100) + "press big-yellow\nrelease big-yellow\n")
        events = subscriber.wait_for_events(topics.events, lambda events: any(
            e.get("input") == "big-yellow" for e in events), timeout=60)
    finally:
        station.stop()
    presses = check_delivered(events, instant_switches.data_dir)
    # Lines the killed engine had read but not yet recorded are the only presses allowed to
    # be missing: an interaction counts once it is on disk, and every one on disk arrived.
    assert 500 <= len([p for p in presses if p["input"] == "big-red"]) <= 700
    assert "agent exited with status -9; restarting" in station.log
    assert "engine exited with status -9; restarting" in station.log


def test_an_unreachable_broker_leaves_the_music_playing_and_says_why(
    station_config: Any, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    station = load_station(station_config({
        "mqtt.host": "127.0.0.1", "mqtt.port": port, "audio.backend": "null"}))
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(20)
    agent = StationProcess(["agent", "--config", str(station.path)],
                           environment={"NOTIFY_SOCKET": str(notify_path)})
    engine = StationProcess(["engine", "--simulate", "--config", str(station.path)])
    agent.start()
    engine.start()
    try:
        status = ""
        while "offline" not in status:
            status = notify.recv(4096).decode()
        assert f"offline: cannot reach the MQTT broker 127.0.0.1:{port}: Connection refused" in (
            status)
        engine.write("press big-blue\n")
        arrived = threading.Event()
        for _ in range(100):
            recorded = iterate_all(station.data_dir)
            if any(e.type == EventType.PRESS for e in recorded) or arrived.wait(0.1):
                break
        recorded = iterate_all(station.data_dir)
        assert any(e.type == EventType.PRESS for e in recorded), "played and recorded"
        assert engine.running and agent.running
    finally:
        agent.stop()
        engine.stop()
        notify.close()
    assert f"cannot reach the MQTT broker 127.0.0.1:{port}: Connection refused" in agent.log
