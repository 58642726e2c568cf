"""Commands over MQTT: validated, relayed to a real engine, answered on the ack topic."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.config import LoadedStation, load_station
from station.contract import schemas
from station.contract.commands import engine_commands
from station.contract.topics import ONLINE, Topics
from station.engine.control_socket import send_command
from station.telemetry.commands import MAX_COMMAND_BYTES, CommandRelay
from station.telemetry.eventlog import EVENTS_FILE, iterate_all

from .conftest import StationProcess, wait_for_engine


def mosquitto_pub(port: int, topic: str, payload: str, *extra: str) -> None:
    subprocess.run(
        ["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topic, "-m", payload, *extra],
        check=True, timeout=10,
    )


# The engine's health readings move on their own (an xrun on a loaded machine); a command
# must leave the settings alone, which is what these tests compare.
HEALTH_READINGS = ("xruns", "audio", "audio_problem",
                   "cue", "activity")  # a cue (and an activity) ends by itself
# What a cue's own thread records while other commands come and go.
CUE_RUNNER_EVENTS = ("cue", "response", "no_response", "anticipation", "off_target")


def settings_of(state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key not in HEALTH_READINGS}


def engine_state(data_dir: Path) -> dict[str, Any]:
    """The engine's settings (client, sound set, volume, session, backend) as it reports them."""
    return settings_of(send_command(data_dir, {"command": "status"})["state"])


def recorded_count(data_dir: Path) -> int:
    """Events recorded, leaving out those a running cue records by itself."""
    with sqlite3.connect(data_dir / EVENTS_FILE) as connection:
        count: int = connection.execute(
            f"SELECT COUNT(*) FROM events WHERE type NOT IN "
            f"({', '.join('?' for _ in CUE_RUNNER_EVENTS)})", CUE_RUNNER_EVENTS).fetchone()[0]
    return count


@pytest.fixture
def online_agent(
    station: LoadedStation, topics: Topics, agent_process: StationProcess,
    engine_process: StationProcess, mosquitto: Any, subscriber_factory: Any,
) -> Any:
    """Engine and agent running; a subscriber on the station's whole subtree."""
    subscriber = subscriber_factory(mosquitto.port, [f"{topics.base}/#"])
    agent_process.start()
    subscriber.wait_for(lambda topic, payload: topic == topics.status
                        and payload == ONLINE.encode())
    # The agent subscribes to its commands right after announcing itself; a status command
    # answered proves the subscription is in place.
    mosquitto_pub(mosquitto.port, topics.command("status"), '{"id": "ready"}')
    subscriber.wait_for(lambda topic, payload: topic == topics.ack
                        and json.loads(payload)["id"] == "ready")
    return subscriber


def ack_for(subscriber: Any, topics: Topics, command_id: str) -> dict[str, Any]:
    _, payload = subscriber.wait_for(
        lambda topic, payload: topic == topics.ack and json.loads(payload)["id"] == command_id
    )
    ack: dict[str, Any] = json.loads(payload)
    return ack


def test_commands_from_mqtt_change_the_engine_and_are_acknowledged(
    station: LoadedStation, topics: Topics, online_agent: Any, mosquitto: Any
) -> None:
    mosquitto_pub(mosquitto.port, topics.command("set_volume"), '{"id": "v1", "volume": 0.5}')
    ack = ack_for(online_agent, topics, "v1")
    assert ack["ok"] is True and ack["command"] == "set_volume"
    assert ack["state"]["volume"] == 0.5
    assert engine_state(station.data_dir)["volume"] == 0.5

    mosquitto_pub(mosquitto.port, topics.command("select_client"),
                  '{"id": "c1", "client": "C-2M9Q"}')
    assert ack_for(online_agent, topics, "c1")["state"]["client"] == "C-2M9Q"

    mosquitto_pub(mosquitto.port, topics.command("tag_observation"),
                  '{"id": "t1", "tag": "hand-over-hand", "note": "reached for the red one"}')
    assert ack_for(online_agent, topics, "t1")["ok"] is True
    observation = online_agent.wait_for_events(
        topics.events, lambda events: any(e["type"] == "observation" for e in events)
    )[-1]
    assert observation["detail"] == {"tag": "hand-over-hand", "note": "reached for the red one"}
    assert observation["client"] == "C-2M9Q"
    assert observation["session"], "an observation belongs to the running session"

    changes = [e.type for e in iterate_all(station.data_dir)]
    assert changes.count("volume_changed") == 1 and changes.count("client_changed") == 1


def test_a_command_the_engine_refuses_is_answered_with_its_reason(
    station: LoadedStation, topics: Topics, online_agent: Any, mosquitto: Any
) -> None:
    before = engine_state(station.data_dir)
    mosquitto_pub(mosquitto.port, topics.command("select_client"),
                  '{"id": "c2", "client": "C-9ZZZ"}')
    ack = ack_for(online_agent, topics, "c2")
    assert ack["ok"] is False
    assert ack["error"] == "no client profile 'C-9ZZZ'; available: C-2M9Q, C-7F3K"
    assert engine_state(station.data_dir) == before


def test_a_retained_command_is_not_run_again_when_the_agent_reconnects(
    station: LoadedStation, topics: Topics, online_agent: Any, mosquitto: Any,
    agent_process: StationProcess,
) -> None:
    # A live subscriber gets a retained message without the retain flag, so it runs once...
    mosquitto_pub(mosquitto.port, topics.command("tag_observation"),
                  '{"id": "r1", "tag": "prompted"}', "-r")
    assert ack_for(online_agent, topics, "r1")["ok"] is True
    agent_process.stop()
    online_agent.messages.clear()
    agent_process.start()
    # ...but never again from the broker's memory.
    ack = ack_for(online_agent, topics, "r1")
    assert ack["ok"] is False
    assert "retained commands are refused" in ack["error"]
    mosquitto_pub(mosquitto.port, topics.command("tag_observation"), "", "-r")  # clear it
    assert [e.type for e in iterate_all(station.data_dir)].count("observation") == 1


def test_a_redelivered_command_is_answered_again_but_runs_once(
    station: LoadedStation, engine_process: StationProcess
) -> None:
    relay = CommandRelay(station.data_dir)
    payload = b'{"id": "same", "note": "smiled"}'
    first = relay.answer("tag_observation", payload)
    second = relay.answer("tag_observation", payload)
    assert first["ok"] is True and second["ok"] is True
    assert second["duplicate"] is True and second["t_wall"] == first["t_wall"]
    # The same id with other content is a new command (ids are the sender's to choose).
    assert relay.answer("tag_observation", b'{"id": "same", "tag": "prompted"}')["ok"]
    observations = [e.detail for e in iterate_all(station.data_dir) if e.type == "observation"]
    assert observations == [{"note": "smiled"}, {"tag": "prompted"}]



def wait_for_listening(port: int, broker: StationProcess, timeout: float = 20.0) -> None:
    """Until the embedded broker accepts connections on `port` (it may start after the
    engine on a busy machine)."""
    import socket
    import threading

    waited = threading.Event()
    for _ in range(int(timeout / 0.1)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if not broker.running or waited.wait(0.1):
                break
    pytest.fail(f"the embedded broker did not listen on {port}:\n{broker.log}")


def test_retained_messages_the_embedded_broker_hands_the_agent_are_not_taken_for_commands(
    station_config: Any, subscriber_factory: Any,
) -> None:
    """amqtt 0.12 hands a connecting client the retained messages of every topic any client
    subscribed to: a reconnecting agent gets its own retained status, which is no command."""
    from tests.conftest import free_port

    port = free_port()
    # No host: the station's own embedded broker on localhost, at mqtt.port.
    path = station_config({"mqtt.host": "", "mqtt.port": port, "audio.backend": "null"})
    station = load_station(path)
    config = station.config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    broker = StationProcess(["broker", "--config", str(path)])
    engine = StationProcess(["engine", "--simulate", "--config", str(path)])
    agent = StationProcess(["agent", "--config", str(path)])
    broker.start()
    engine.start()
    try:
        wait_for_engine(station.data_dir, engine)
        wait_for_listening(port, broker)
        subscriber = subscriber_factory(port, [topics.status, topics.ack])
        agent.start()
        subscriber.wait_for(lambda topic, payload: topic == topics.status
                            and payload == ONLINE.encode())
        agent.stop()
        subscriber.messages.clear()
        agent.start()  # the broker now holds a retained status that the subscriber asked for
        subscriber.wait_for(lambda topic, payload: topic == topics.status
                            and payload == ONLINE.encode())
        mosquitto_pub(port, topics.command("status"), '{"id": "after-reconnect"}')
        ack_for(subscriber, topics, "after-reconnect")
        # Commands are answered in the order they came: anything taken for one on connect
        # would have been answered (refused) before this one.
        acks = [json.loads(payload) for topic, payload, _ in subscriber.messages
                if topic == topics.ack]
        assert [ack["id"] for ack in acks] == ["after-reconnect"], acks
    finally:
        for process in (agent, engine, broker):
            if process.process is not None:
                process.stop()


INVALID_COMMANDS = [
    ("set_volume", b'{"id": "a", "volume": 1.5}', "volume: 1.5 is greater than the maximum"),
    ("set_volume", b'{"id": "a", "volume": "loud"}', "volume: 'loud' is not of type"),
    ("set_volume", b'{"id": "a", "volume": NaN}', "payload is not JSON"),
    ("set_volume", b'{"volume": 0.5}', "payload: 'id' is a required property"),
    ("select_client", b'{"id": "a", "client": "Anna Smith"}',
     "client: 'Anna Smith' is not a client pseudonym"),
    ("tag_observation", b'{"id": "a"}', "payload: needs at least one of tag, note"),
    ("tag_observation", b'{"id": "a", "tag": "cheered"}', "tag: 'cheered' is not one of"),
    ("tag_observation", json.dumps({"id": "a", "note": "x" * 201}).encode(),
     "note: " + repr("x" * 201) + " is too long"),
    ("tag_observation", b'{"id": "a", "note": "two\\nlines"}',
     "must not contain control characters"),
    ("start_session", b'{"id": "a", "session": "mine"}', "Additional properties"),
    ("dance", b'{"id": "a"}',
     "unknown command 'dance'; commands: calibrate_sensor, cancel_cue, cue, end_session"),
    ("status", b"[1, 2]", "a command is a JSON object"),
    ("status", b"\xff\xfe", "payload is not UTF-8 text"),
    ("status", b"{", "payload is not JSON"),
    ("status", b"[" * 1500 + b"]" * 1500, f"a command is at most {MAX_COMMAND_BYTES} bytes"),
    ("status", b"[" * 1000 + b"]" * 1000, "nested too deeply"),
]


def test_invalid_commands_are_refused_with_the_reason_and_change_nothing(
    station: LoadedStation, engine_process: StationProcess
) -> None:
    before, recorded = engine_state(station.data_dir), recorded_count(station.data_dir)
    relay = CommandRelay(station.data_dir)
    for name, payload, error in INVALID_COMMANDS:
        ack = relay.answer(name, payload)
        assert ack["ok"] is False
        assert error in ack["error"], (name, payload[:60])
        assert ack["id"] == expected_id(payload)
    assert engine_state(station.data_dir) == before
    assert recorded_count(station.data_dir) == recorded


# -- random and malformed payloads ---------------------------------------------------------

# The engine's commands; the agent's own (replay) are tested in test_replay.py.
COMMANDS = list(engine_commands())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
ids = st.one_of(st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z"), json_values)
field_values = {
    "client": st.sampled_from(["C-7F3K", "C-2M9Q", "C-0000", "anna", ""]) | json_values,
    "sound_set": st.sampled_from(["calm-bells", "warm-strings", "loud-drums", "Calm"])
    | json_values,
    "volume": st.floats(-0.5, 1.5) | st.sampled_from([0, 1, 0.25]) | json_values,
    "tag": st.sampled_from(["prompted", "independent", "hand-over-hand", "cheered"])
    | json_values,
    "note": st.text(max_size=210) | json_values,
    "targets": st.lists(st.sampled_from(["big-red", "head-switch", "volume-up", "Big"]),
                        max_size=3) | json_values,
    "window_seconds": st.floats(0.5, 70) | json_values,
    "recues": st.integers(-1, 4) | json_values,
    "quieter_db": st.floats(-1, 13) | json_values,
    "activity": st.sampled_from(["play-when-you-hear", "call-and-response", "dance", "Cue"])
    | json_values,
    "show": st.sampled_from(["both", "sound", "light", "LED"]) | json_values,
    "input": st.sampled_from(["big-red", "beam", "Beam"]) | json_values,
    "seconds": st.floats(1, 31) | json_values,
}


@st.composite
def near_valid_commands(draw: st.DrawFn, name: str | None = None) -> dict[str, Any]:
    """Objects shaped like command `name` (any command's fields when None): some valid, most
    wrong in one or more ways."""
    fields = (list(schemas.schema(f"cmd/{name}")["properties"]) if name else list(field_values))
    document = {}
    if draw(st.integers(0, 9)) > 0:
        document["id"] = draw(ids)
    for key in fields:
        if key != "id" and draw(st.integers(0, 6)) > 0:
            document[key] = draw(field_values[key])
    if draw(st.integers(0, 9)) == 0:
        document[draw(st.text(max_size=8))] = draw(json_values)
    return document


targeted = st.sampled_from(COMMANDS).flatmap(lambda name: st.tuples(
    st.just(name), near_valid_commands(name).map(lambda value: json.dumps(value).encode())))
payloads = st.one_of(
    st.binary(max_size=64),
    st.binary(min_size=MAX_COMMAND_BYTES - 8, max_size=MAX_COMMAND_BYTES + 8),
    json_values.map(lambda value: json.dumps(value).encode()),
    near_valid_commands().map(lambda value: json.dumps(value).encode()),
)
names = st.sampled_from(COMMANDS) | st.sampled_from(["", "dance", "SET_VOLUME", "status/x"])
retained_flags = st.integers(0, 19).map(lambda n: n == 0)
messages = st.one_of(
    st.tuples(names, payloads, retained_flags),
    st.tuples(targeted, retained_flags).map(lambda pair: (*pair[0], pair[1])),
)


ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def strict_json(payload: bytes) -> Any:
    """The payload as the contract reads it: UTF-8 JSON without NaN or Infinity."""
    def refuse(word: str) -> Any:
        raise ValueError(word)

    return json.loads(payload.decode("utf-8"), parse_constant=refuse)


def contract_allows(name: str, payload: bytes, retained: bool) -> bool:
    """Whether docs/mqtt.md lets this message through to the engine."""
    if retained or name not in COMMANDS or len(payload) > MAX_COMMAND_BYTES:
        return False
    try:
        document = strict_json(payload)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and schemas.validator(f"cmd/{name}").is_valid(document)


def expected_id(payload: bytes) -> str | None:
    """The id an ack must carry: the payload's, unless it cannot be read (or is too big to)."""
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        document = strict_json(payload)
    except (ValueError, RecursionError):
        return None
    command_id = document.get("id") if isinstance(document, dict) else None
    return command_id if isinstance(command_id, str) and ID_RE.fullmatch(command_id) else None


def check_answer(data_dir: Path, message: tuple[str, bytes, bool], ack: dict[str, Any],
                 before: dict[str, Any], recorded: int) -> str:
    """Check one answer against the contract; which kind of answer it was."""
    name, payload, retained = message
    assert not schemas.problems("ack", ack), ack
    assert ack["command"] == name
    assert ack["id"] == expected_id(payload)
    after = engine_state(data_dir)
    if ack.get("duplicate"):
        assert after == before and recorded_count(data_dir) == recorded
        return "answered again"
    if not contract_allows(name, payload, retained):
        assert ack["ok"] is False and ack["error"], ack
        assert "state" not in ack, "an invalid command never reaches the engine"
        assert after == before
        assert recorded_count(data_dir) == recorded
        return "refused by the contract"
    if ack["ok"]:
        assert settings_of(ack["state"]) == after
        return "done"
    assert ack["error"]
    assert after == before, f"refused by the engine, yet the state changed: {ack}"
    return "refused by the engine"


def test_ten_thousand_random_commands_are_each_answered_and_only_valid_ones_act(
    station: LoadedStation, engine_process: StationProcess
) -> None:
    data_dir = station.data_dir
    answers: Counter[str] = Counter()

    @settings(max_examples=10_000, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(message=messages)
    def answer_one(message: tuple[str, bytes, bool]) -> None:
        before, recorded = engine_state(data_dir), recorded_count(data_dir)
        ack = CommandRelay(data_dir).answer(*message)
        answers[check_answer(data_dir, message, ack, before, recorded)] += 1

    answer_one()
    assert sum(answers.values()) >= 10_000
    # The generator must reach every branch of the contract, or the test proves little.
    del answers["answered again"]  # a fresh relay per example: only a repeat within one
    assert min(answers.values()) >= 200 and len(answers) == 3, answers
    assert engine_process.running


def test_random_commands_through_the_broker_are_each_answered_and_the_agent_survives(
    station: LoadedStation, topics: Topics, online_agent: Any, mosquitto: Any,
    agent_process: StationProcess, engine_process: StationProcess,
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    sent: list[tuple[str, bytes, bool]] = []

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(message=messages.filter(lambda m: "/" not in m[0] and m[0] and not m[2]))
    def publish_one(message: tuple[str, bytes, bool]) -> None:
        name, payload, _ = message
        before, recorded = engine_state(station.data_dir), recorded_count(station.data_dir)
        acks_before = len(online_agent.events(topics.ack))
        publisher.publish(topics.command(name), payload, qos=1).wait_for_publish(10)
        acks = online_agent.wait_for_events(
            topics.ack, lambda acks: len(acks) > acks_before, timeout=15
        )
        assert len(acks) == acks_before + 1, "one ack per command"
        check_answer(station.data_dir, (name, payload, False), acks[-1], before, recorded)
        sent.append((name, payload, False))

    try:
        publish_one()
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    assert len(sent) == 300
    assert agent_process.running, agent_process.log
    # Still delivering: a press after the storm arrives.
    engine_process.write("press big-red\n")
    online_agent.wait_for_events(topics.events, lambda events: any(
        e["type"] == "press" for e in events))
