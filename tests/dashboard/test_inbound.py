"""Reading MQTT messages against the contract: what is stored, and why the rest is not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from station.dashboard.inbound import read_message, subscriptions
from station.dashboard.store import (
    EventRecord,
    IngestReason,
    LiveRecord,
    Refusal,
    StateRecord,
    StationKey,
    StatusRecord,
)
from tests.dashboard.helpers import ROOT, event, events_topic

ROOM = StationKey("demo-site", "room-1")


def _read(topic: str, payload: bytes) -> object:
    return read_message(topic, payload, ROOT, received=100.0)


def test_the_subscriptions_cover_every_station_under_the_root() -> None:
    assert subscriptions(ROOT) == [
        "sensory/v1/+/+/events", "sensory/v1/+/+/status", "sensory/v1/+/+/state",
        "sensory/v1/+/+/session/summary", "sensory/v1/+/+/session/counts",
        "sensory/v1/+/+/session/aggregates", "sensory/v1/+/+/status/health",
    ]


def test_a_valid_event_status_and_state_are_read_for_the_topics_station() -> None:
    message = event(3)
    record = _read(events_topic(), json.dumps(message).encode())
    assert record == EventRecord(ROOM, message, 100.0)
    assert _read(f"{ROOT}/demo-site/room-1/status", b"offline") == StatusRecord(
        ROOM, "offline", 100.0)
    state = {"client": "C-7F3K", "sound_set": "calm-bells", "volume": 0.6, "session": ""}
    assert _read(f"{ROOT}/demo-site/room-1/state", json.dumps(state).encode()) == StateRecord(
        ROOM, state, 100.0)


@pytest.mark.parametrize("topic", [
    "sensory/v1/demo-site/room-1/cmd/set_volume", "sensory/v1/demo-site/room-1/ack",
    "sensory/v1/demo-site/room-1/inputs/big-red/presses", "sensory/v2/demo-site/room-1/events",
])
def test_topics_the_dashboard_does_not_store_are_ignored(topic: str) -> None:
    assert _read(topic, b"{}") is None


@pytest.mark.parametrize(("payload", "reason", "problem"), [
    (b"{\"id\": ", IngestReason.NOT_JSON, "not JSON: Expecting value"),
    (b"\xff\xfe{}", IngestReason.NOT_UTF8, "not UTF-8: invalid start byte at byte 0"),
    (json.dumps({**event(1), "t_mono": float("nan")}).encode(), IngestReason.NOT_JSON,
     "not JSON: NaN is not JSON"),
    (json.dumps({**event(1), "seq": "one"}).encode(), IngestReason.SCHEMA,
     "seq: 'one' is not of type 'integer'"),
    (json.dumps({k: v for k, v in event(1).items() if k != "client"}).encode(),
     IngestReason.SCHEMA, "payload: 'client' is a required property"),
    (json.dumps(event(1, station="room-2")).encode(), IngestReason.WRONG_STATION,
     "an event of demo-site/room-2 on the topic of demo-site/room-1"),
    (json.dumps(event(1, session="s" * 65)).encode(), IngestReason.SCHEMA,
     "session: longer than 64 characters"),
    (json.dumps(event(1, "observation", detail={"note": "a\u0000b"})).encode(),
     IngestReason.SCHEMA, "payload: a NUL character (\\u0000)"),
    (json.dumps(event(1, "observation", detail={"note": "\ud800"})).encode(),
     IngestReason.SCHEMA, "payload: a lone surrogate"),
    # Where the schema has a pattern, the quick check (jsonschema-rs) cannot take it at all.
    (json.dumps({**event(1), "sound_set": "calm-\ud800"}).encode(), IngestReason.SCHEMA,
     "sound_set: 'calm-\\ud800' does not match"),
    (json.dumps(event(2**64)).encode(), IngestReason.SCHEMA,
     "seq: larger than 9223372036854775807"),
    (json.dumps(event(1)).replace('"t_mono": 81235.5', '"t_mono": 1e400').encode(),
     IngestReason.NOT_JSON, "not JSON: 1e400 is too large a number"),
    (json.dumps(event(1, "observation", detail={"note": "x" * 200}) | {"pad": "y" * 8000})
     .encode(), IngestReason.OVERSIZED, "bytes; event messages take at most 8192"),
])
def test_a_bad_event_is_refused_with_its_reason(
    payload: bytes, reason: IngestReason, problem: str
) -> None:
    record = _read(events_topic(), payload)
    assert isinstance(record, Refusal), record
    assert record.reason == reason and problem in record.problem, record.problem
    assert record.topic == events_topic()


def test_a_bad_status_and_a_bad_topic_name_are_refused() -> None:
    status = _read(f"{ROOT}/demo-site/room-1/status", b"sleeping")
    assert isinstance(status, Refusal) and status.reason == IngestReason.SCHEMA
    assert status.problem == "payload: 'sleeping' is not one of ['online', 'offline']"
    topic = _read(f"{ROOT}/Demo Site/room-1/status", b"online")
    assert isinstance(topic, Refusal) and topic.reason == IngestReason.BAD_TOPIC
    assert topic.problem == "'Demo Site' in the topic is not a site or station name"


def test_the_docs_list_every_reason_ingest_counts() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "dashboard.md").read_text()
    table = text.split("| reason | what |")[1].split("\n\n")[0]
    documented = re.findall(r"^\| `([a-z_0-9]+)` \| ", table, flags=re.MULTILINE)
    assert documented == [reason.value for reason in IngestReason]


def test_the_retained_live_documents_are_read_for_the_rooms_page() -> None:
    counts = {"session": "s1", "client": "C-7F3K", "counts": {"big-red": 2}}
    record = _read(f"{ROOT}/demo-site/room-1/session/counts", json.dumps(counts).encode())
    assert record == LiveRecord(ROOM, "counts", counts, 100.0)
    refused = _read(f"{ROOT}/demo-site/room-1/status/health", b'{"backlog": -1}')
    assert isinstance(refused, Refusal) and refused.reason is IngestReason.SCHEMA
