"""Every message the station publishes validates against its schema in the repository."""

from __future__ import annotations

import json
import subprocess
import threading
import tomllib
from typing import Any

import pytest
import tomli_w

from station.config import LoadedStation, load_station
from station.contract import schemas
from station.contract.topics import Topics

from .conftest import StationProcess


@pytest.fixture
def station(station: LoadedStation) -> LoadedStation:
    """The telemetry tests' station with a distance sensor playing zones on warm-strings (the
    sound set this test switches to), so that sensor events are published too."""
    data = tomllib.loads(station.path.read_text())
    data["inputs"].append({"name": "beam", "kind": "distance", "pin": 20, "echo_pin": 21,
                           "slot": 5})
    station.path.write_text(tomli_w.dumps(data))
    sound_set_file = station.path.parent / "sound-sets" / "warm-strings.toml"
    sound_set = tomllib.loads(sound_set_file.read_text())
    sound_set["slots"] = [*sound_set["slots"][:4],
                          {"action": "note", "sensor": "zones", "zones": 4}]
    sound_set_file.write_text(tomli_w.dumps(sound_set))
    return load_station(station.path)


def play_the_sensor(engine: StationProcess, subscriber: Any, topics: Topics,
                    port: int) -> None:
    """Zones and a movement, a lost echo and its return, and a calibration."""
    def arrived(kind: str) -> None:
        subscriber.wait_for_events(topics.events, lambda events: any(
            e["type"] == kind for e in events))

    engine.write("set beam 0.4\n")
    subprocess.run(
        ["mosquitto_pub", "-p", str(port), "-q", "1", "-t",
         topics.command("calibrate_sensor"), "-m",
         json.dumps({"id": "calibrate", "input": "beam", "seconds": 2})],
        check=True, timeout=10,
    )
    for value in ("0.9", "0.4", "0.8", "0"):
        engine.write(f"set beam {value}\n")
        threading.Event().wait(0.5)
    arrived("zone")
    arrived("movement")
    arrived("sensor_calibrated")
    engine.write("set beam none\n")
    arrived("sensor_lost")
    engine.write("set beam 0\n")
    arrived("sensor_back")


def schema_of(topics: Topics, topic: str) -> str:
    """The schema docs/mqtt.md names for a topic under the station's base."""
    assert topic.startswith(topics.base + "/"), topic
    relative = topic.removeprefix(topics.base + "/")
    if relative.startswith("inputs/") and relative.endswith("/presses"):
        return "input_presses"
    if relative.startswith("cmd/"):
        return f"cmd/{relative.removeprefix('cmd/')}"
    known = {"status": "status", "events": "event", "session/counts": "counts", "ack": "ack",
             "state": "state", "choices": "choices", "session/aggregates": "aggregates",
             "session/summary": "summary", "status/health": "health"}
    assert relative in known, f"{topic} is not in docs/mqtt.md"
    return known[relative]


def decoded(schema: str, payload: bytes) -> Any:
    """Plain-text payloads (status, counts per input) are validated as the value they carry."""
    if schema == "status":
        return payload.decode()
    if schema == "input_presses":
        return int(payload)
    return json.loads(payload)


def play_a_cue_with_every_outcome(engine: StationProcess, subscriber: Any, topics: Topics,
                                  port: int) -> None:
    """A cue answered after an anticipation and an off-target press, then one not answered."""
    def cue(command_id: str, window: float) -> None:
        subprocess.run(
            ["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topics.command("cue"), "-m",
             json.dumps({"id": command_id, "targets": ["big-red"], "window_seconds": window})],
            check=True, timeout=10,
        )
        subscriber.wait_for(lambda topic, payload: topic == topics.ack
                            and json.loads(payload)["id"] == command_id)

    def press(name: str, then: float) -> None:
        engine.write(f"press {name}\n")
        threading.Event().wait(0.12)  # held past the acceptance delay, as a client holds it
        engine.write(f"release {name}\n")
        threading.Event().wait(then)  # past the lockout, or the call

    def arrived(kind: str) -> None:
        subscriber.wait_for_events(topics.events, lambda events: any(
            e["type"] == kind for e in events))

    cue("cue-answered", 5.0)
    press("big-blue", 0.8)  # while the call (0.75 s) sounds, then past its end
    arrived("anticipation")
    press("big-blue", 0.3)
    arrived("off_target")
    press("big-red", 0.3)
    arrived("response")
    cue("cue-unanswered", 1.0)
    arrived("no_response")


def test_every_published_message_matches_its_schema(
    station: LoadedStation, topics: Topics, engine_process: StationProcess,
    agent_process: StationProcess, mosquitto: Any, subscriber_factory: Any,
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [f"{topics.base}/#"])
    agent_process.start()
    subscriber.wait_for(lambda topic, payload: topic == topics.status and payload == b"online")
    commands = [
        ("select_client", {"client": "C-2M9Q"}),  # lockout 250 ms: a quick 2nd press is rejected
        ("select_sound_set", {"sound_set": "warm-strings"}),
        ("set_volume", {"volume": 0.4}),
        ("tag_observation", {"tag": "verbal", "note": "needed a cue"}),
        ("select_client", {"client": "Anna"}),
        ("reload", {}),
        ("status", {}),
    ]
    for number, (name, arguments) in enumerate(commands):
        subprocess.run(
            ["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t", topics.command(name),
             "-m", json.dumps({"id": f"k{number}", **arguments})], check=True, timeout=10,
        )
        subscriber.wait_for(lambda topic, payload, n=number: topic == topics.ack
                            and json.loads(payload)["id"] == f"k{n}")
    play_a_cue_with_every_outcome(engine_process, subscriber, topics, mosquitto.port)
    play_the_sensor(engine_process, subscriber, topics, mosquitto.port)
    # Holds of 120 ms: longer than C-2M9Q's 80 ms acceptance delay, and the second press comes
    # well within C-2M9Q's 250 ms lockout.
    for line in ("press", "release", "press", "release"):
        engine_process.write(f"{line} big-red\n")
        threading.Event().wait(0.12)
    subscriber.wait_for_events(topics.events, lambda events: any(
        e["type"] == "rejected" for e in events))
    subscriber.wait_for(lambda topic, payload: topic == topics.aggregates
                        and json.loads(payload)["rejected"] == {"lockout": 1})
    subprocess.run(
        ["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t",
         topics.command("end_session"), "-m", '{"id": "end"}'], check=True, timeout=10,
    )
    subscriber.wait_for(lambda topic, payload: topic == topics.summary)
    assert agent_process.stop() == 0
    subscriber.wait_for(lambda topic, payload: topic == topics.status and payload == b"offline")

    seen: dict[str, int] = {}
    for topic, payload, _ in list(subscriber.messages):
        if topic.startswith(f"{topics.base}/cmd/"):
            continue  # the test's own commands, not the station's messages
        schema = schema_of(topics, topic)
        problems = schemas.problems(schema, decoded(schema, payload))
        assert not problems, f"{topic} {payload!r}: {problems}"
        seen[schema] = seen.get(schema, 0) + 1
    assert set(seen) == {"status", "event", "counts", "input_presses", "ack", "state",
                         "choices", "aggregates", "summary", "health"}, seen
    choices = next(json.loads(p) for t, p, _ in subscriber.messages if t == topics.choices)
    assert choices["sound_sets"] == sorted(station.sound_sets)
    assert [entry["client"] for entry in choices["clients"]] == sorted(station.clients)
    event_types = {json.loads(p)["type"] for t, p, _ in subscriber.messages if t == topics.events}
    assert event_types == set(schemas.schema("event")["properties"]["type"]["enum"])
