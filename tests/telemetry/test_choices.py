"""The station's retained choices (clients with their ceilings, sound sets): published on
connect from the config files, and again after a reload that brings something new."""

from __future__ import annotations

import json
from typing import Any

from station.config import LoadedStation
from station.contract import schemas
from station.contract.topics import Topics

from .conftest import StationProcess
from .test_commands import ack_for, mosquitto_pub


def test_the_choices_follow_the_config_files_across_a_reload(
    station: LoadedStation, topics: Topics, engine_process: StationProcess,
    agent_process: StationProcess, mosquitto: Any, subscriber_factory: Any,
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.choices, topics.ack])
    agent_process.start()
    _, payload = subscriber.wait_for(lambda topic, _: topic == topics.choices)
    first = json.loads(payload)
    assert not schemas.problems("choices", first)
    assert first["sound_sets"] == sorted(station.sound_sets)
    assert {"client": "C-2M9Q", "volume_ceiling_dbfs": -18.0} in first["clients"]

    folder = station.path.parent / station.config.station.sound_sets_dir
    text = (folder / "calm-bells.toml").read_text(encoding="utf-8")
    (folder / "quiet-bells.toml").write_text(
        text.replace('name = "calm-bells"', 'name = "quiet-bells"'), encoding="utf-8")
    mosquitto_pub(mosquitto.port, topics.command("reload"), '{"id": "r1"}')
    assert ack_for(subscriber, topics, "r1")["ok"] is True
    _, payload = subscriber.wait_for(
        lambda topic, payload: topic == topics.choices and b"quiet-bells" in payload)
    assert json.loads(payload)["sound_sets"] == sorted([*station.sound_sets, "quiet-bells"])
