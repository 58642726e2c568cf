"""Many rooms: a station behind the shipped mosquitto bridge reaches the central dashboard,
also across a restart of either broker; the dashboard's commands reach the station."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.contract.topics import Topics
from station.dashboard.ingest import Ingest, IngestSettings
from station.dashboard.store import StationKey, Store
from station.telemetry.eventlog import iterate_all
from tests.conftest import Mosquitto
from tests.telemetry.conftest import StationProcess

SNIPPET = Path(__file__).resolve().parents[2] / "systemd" / "mosquitto-sensory-bridge.conf"
ROOM = StationKey("demo-site", "room-1")


def _bridge_lines(central_port: int) -> list[str]:
    """The shipped bridge snippet, pointed at the test's central broker (on localhost,
    without TLS or logins: those lines are the only ones left out)."""
    lines = []
    for line in SNIPPET.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "address":
            line = f"address 127.0.0.1:{central_port}"
        elif key in ("bridge_cafile", "remote_username", "remote_password"):
            continue
        lines.append(line)
    return lines


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[Mosquitto, Mosquitto]]:
    """(the station's broker, bridged to it, the central broker)."""
    folders = tmp_path / "central", tmp_path / "building"
    for folder in folders:
        folder.mkdir()
    central = Mosquitto(folders[0])
    central.start()
    building = Mosquitto(folders[1])
    with building.config.open("a") as config:
        config.write("\n".join(_bridge_lines(central.port)) + "\n")
    building.start()
    yield building, central
    building.stop()
    central.stop()


def test_presses_behind_the_bridge_reach_the_central_dashboard_across_restarts(
    brokers: tuple[Mosquitto, Mosquitto], store: Store, station_config: Any,
    subscriber_factory: Any, tmp_path: Path,
) -> None:
    building, central = brokers
    ingest = Ingest(store, IngestSettings(host="127.0.0.1", port=central.port))
    ingest.start()
    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": building.port,
                           "audio.backend": "null"})
    config = load_station(path).config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    station = StationProcess(["run", "--simulate", "--config", str(path)])
    station.start()

    def presses() -> int:
        return len([e for e in store.events(ROOM) if e["type"] == "press"])

    def press(name: str, expected: int) -> None:
        station.write(f"press {name}\nrelease {name}\n")
        assert ingest.wait_for(lambda: presses() == expected, 30), (
            f"{presses()} presses at the central dashboard, expected {expected}")

    try:
        assert ingest.subscribed.wait(10)
        press("big-red", 1)
        press("big-blue", 2)

        # A command from the central dashboard reaches the station and its ack comes back,
        # once: nothing loops between the brokers.
        watcher = subscriber_factory(central.port, [f"{topics.base}/cmd/#", topics.ack])
        subprocess.run(["mosquitto_pub", "-p", str(central.port), "-q", "1",
                        "-t", topics.command("status"), "-m", '{"id": "via-bridge"}'],
                       check=True, timeout=10)
        _, payload = watcher.wait_for(lambda topic, payload: topic == topics.ack)
        assert json.loads(payload)["id"] == "via-bridge" and json.loads(payload)["ok"]
        assert [t for t, _, _ in watcher.messages if "/cmd/" in t] == [
            topics.command("status")]

        # The central broker goes away: the building's broker keeps what the bridge could not
        # send, and sends it when the central one is back.
        central.stop()
        station.write("press big-red\nrelease big-red\npress big-blue\nrelease big-blue\n")
        central.start()
        assert ingest.wait_for(lambda: presses() == 4, 60), f"{presses()} of 4 presses"

        # The bridge itself restarts (the building's broker): the station's agent reconnects.
        building.stop()
        building.start()
        press("big-red", 5)
    finally:
        assert station.stop() == 0, station.log
    recorded = [(e.id, e.seq) for e in iterate_all(tmp_path / "data")]
    try:
        assert ingest.wait_for(lambda: len(store.events(ROOM)) == len(recorded), 30)
    finally:
        ingest.stop()
    assert [(e["id"], e["seq"]) for e in store.events(ROOM)] == recorded
    assert store.gaps() == []
