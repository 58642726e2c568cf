"""`cmd/replay`: the agent publishes a range of the event log again, with the events' own ids,
for a dashboard that found a gap; the engine is never involved (none runs here)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from station.config import LoadedStation
from station.contract import schemas
from station.contract.commands import AGENT, command_specs
from station.contract.events import EventType
from station.contract.topics import Topics
from station.telemetry.agent import TelemetryAgent
from station.telemetry.eventlog import EventRecorder
from station.telemetry.replay import MAX_REPLAY_EVENTS


def _topics(station: LoadedStation) -> Topics:
    config = station.config
    return Topics(config.mqtt.topic_root, config.station.site, config.station.id)


def _command(port: int, topics: Topics, name: str, body: dict[str, Any]) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topics.command(name),
                    "-m", json.dumps(body)], check=True, timeout=10)


def _ack(subscriber: Any, topics: Topics, command_id: str) -> dict[str, Any]:
    _, payload = subscriber.wait_for(
        lambda topic, payload: topic == topics.ack and json.loads(payload)["id"] == command_id)
    ack: dict[str, Any] = json.loads(payload)
    assert schemas.problems("ack", ack) == []
    return ack


def test_the_agent_answers_every_agent_command_of_the_contract(
    agent_station: LoadedStation,
) -> None:
    agent = TelemetryAgent(agent_station)
    assert set(agent.commands.agent_commands) == {
        name for name, spec in command_specs().items() if spec.handled_by == AGENT
    }


def test_a_replay_publishes_the_range_again_with_the_same_ids(
    agent_station: LoadedStation, running_agent: TelemetryAgent, mosquitto: Any,
    subscriber_factory: Any,
) -> None:
    topics = _topics(agent_station)
    subscriber = subscriber_factory(mosquitto.port, [topics.events, topics.ack])
    recorder = EventRecorder(agent_station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    for number in range(11):
        recorder.record(EventType.PRESS, "big-red", None, 100.0 + number)
    recorder.close()
    first = subscriber.wait_for_events(topics.events, lambda events: len(events) == 12)

    _command(mosquitto.port, topics, "replay", {"id": "r1", "from_seq": 3, "to_seq": 7})
    ack = _ack(subscriber, topics, "r1")
    assert ack["ok"] is True and ack["replayed"] == 5 and ack["missing"] == []
    again = subscriber.events(topics.events)[12:]
    assert again == first[2:7], "the same events, ids, gaps and all"

    # Asked beyond what the station has recorded: what there is, and what is not in the log.
    _command(mosquitto.port, topics, "replay", {"id": "r2", "from_seq": 11, "to_seq": 20})
    ack = _ack(subscriber, topics, "r2")
    assert (ack["replayed"], ack["missing"]) == (2, [[13, 20]])
    assert [e["seq"] for e in subscriber.events(topics.events)[17:]] == [11, 12]


@pytest.mark.parametrize(("body", "error"), [
    ({"from_seq": 9, "to_seq": 2}, "to_seq (2) is before from_seq (9); give the range in order"),
    ({"from_seq": 1, "to_seq": MAX_REPLAY_EVENTS + 1},
     f"at most {MAX_REPLAY_EVENTS} events per replay, not {MAX_REPLAY_EVENTS + 1}; ask for the "
     "rest in another command"),
    ({"from_seq": 0, "to_seq": 2}, "from_seq: 0 is less than the minimum of 1"),
    ({"from_seq": 1}, "payload: 'to_seq' is a required property"),
])
def test_a_bad_replay_is_refused_with_the_reason_and_publishes_nothing(
    agent_station: LoadedStation, running_agent: TelemetryAgent, mosquitto: Any,
    subscriber_factory: Any, body: dict[str, Any], error: str,
) -> None:
    topics = _topics(agent_station)
    subscriber = subscriber_factory(mosquitto.port, [topics.events, topics.ack])
    recorder = EventRecorder(agent_station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.close()
    subscriber.wait_for_events(topics.events, lambda events: len(events) == 1)
    _command(mosquitto.port, topics, "replay", {"id": "bad", **body})
    ack = _ack(subscriber, topics, "bad")
    assert ack["ok"] is False and ack["error"] == error
    # The agent goes on delivering, and published nothing more than the one event.
    _command(mosquitto.port, topics, "replay", {"id": "good", "from_seq": 1, "to_seq": 1})
    assert _ack(subscriber, topics, "good")["replayed"] == 1
    assert len(subscriber.events(topics.events)) == 2
