"""MQTT 5 where the broker speaks it, 3.1.1 otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from station.config import load_station
from station.contract.topics import Topics

from .conftest import StationProcess


@pytest.mark.parametrize(("setting", "spoken"), [("auto", "5"), ("3.1.1", "3.1.1")])
def test_the_agent_speaks_mqtt_5_to_mosquitto_unless_told_otherwise(
    station_config: Any, mosquitto: Any, subscriber_factory: Any, setting: str, spoken: str
) -> None:
    station = load_station(station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                                           "mqtt.protocol": setting}))
    topics = Topics(station.config.mqtt.topic_root, station.config.station.site,
                    station.config.station.id)
    subscriber = subscriber_factory(mosquitto.port, [topics.status])
    agent = StationProcess(["agent", "--config", str(station.path)])
    agent.start()
    try:
        subscriber.wait_for(lambda topic, payload: payload == b"online")
    finally:
        agent.stop()
    assert f"connected to MQTT broker 127.0.0.1:{mosquitto.port} (MQTT {spoken})" in agent.log
