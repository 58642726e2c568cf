"""Home Assistant MQTT discovery through a real broker."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from station.config import load_station
from station.contract import schemas
from station.contract.topics import Topics

from .conftest import StationProcess


def test_discovery_describes_the_station_and_is_sent_again_when_home_assistant_returns(
    station_config: Any, mosquitto: Any, subscriber_factory: Any
) -> None:
    station = load_station(station_config({
        "mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
        "mqtt.homeassistant_discovery": True,
    }))
    topics = Topics(station.config.mqtt.topic_root, station.config.station.site,
                    station.config.station.id)
    subscriber = subscriber_factory(mosquitto.port, ["homeassistant/#"])
    inputs = [item.name for item in station.config.inputs]
    expected = 8 + 2 * len(inputs)  # station sensors, a count and a trigger per input

    def configs() -> list[tuple[str, bytes]]:
        return [(t, p) for t, p, _ in list(subscriber.messages) if t.endswith("/config")]

    agent = StationProcess(["agent", "--config", str(station.path)])
    agent.start()
    try:
        subscriber.wait_for(lambda *_: len(configs()) >= expected)
        first = configs()
        subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-t",
                        "homeassistant/status", "-m", "online"], check=True, timeout=10)
        subscriber.wait_for(lambda *_: len(configs()) >= 2 * expected)
    finally:
        agent.stop()

    sensors = {t: json.loads(p) for t, p in first if t.startswith("homeassistant/sensor/")}
    triggers = {t: json.loads(p) for t, p in first
                if t.startswith("homeassistant/device_automation/")}
    assert len(sensors) == 8 + len(inputs) and len(triggers) == len(inputs)
    for topic, payload in sensors.items():
        assert topic.startswith(f"homeassistant/sensor/{topics.station}/"), topic
        assert not schemas.problems("homeassistant_sensor", payload), (topic, payload)
        assert payload["availability_topic"] == topics.status
    for payload in triggers.values():
        assert not schemas.problems("homeassistant_trigger", payload), payload
        assert payload["topic"] == topics.events
    assert {p["subtype"] for p in triggers.values()} == set(inputs)
    assert {p["state_topic"] for p in sensors.values()} >= {
        topics.state, topics.aggregates, topics.health, topics.input_presses("big-red")}
    assert len({p["unique_id"] for p in sensors.values()}) == len(sensors)
    identifiers = {json.dumps(p["device"]["identifiers"]) for p in [*sensors.values(),
                                                                  *triggers.values()]}
    assert len(identifiers) == 1, "one device"


def test_discovery_is_off_unless_asked_for(
    station_config: Any, mosquitto: Any, subscriber_factory: Any
) -> None:
    station = load_station(station_config({"mqtt.host": "127.0.0.1",
                                           "mqtt.port": mosquitto.port}))
    topics = Topics(station.config.mqtt.topic_root, station.config.station.site,
                    station.config.station.id)
    subscriber = subscriber_factory(mosquitto.port, ["homeassistant/#", topics.status])
    agent = StationProcess(["agent", "--config", str(station.path)])
    agent.start()
    try:
        subscriber.wait_for(lambda topic, payload: topic == topics.status and payload == b"online")
        subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-t", topics.status,
                        "-m", "marker"], check=True, timeout=10)
        subscriber.wait_for(lambda topic, payload: payload == b"marker")
    finally:
        agent.stop()
    assert not [t for t, _, _ in subscriber.messages if t.startswith("homeassistant/")]
