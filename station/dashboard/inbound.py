"""Reading one MQTT message as the contract says it should be: a record to store, or the
reason to refuse it.

Only the station topics the dashboard stores are read (`KINDS`): ``events``, ``status``,
``state``, ``session/summary``, and for the rooms page ``session/counts``,
``session/aggregates`` and ``status/health``. Anything wrong (too large, not UTF-8, not JSON,
refused by the topic's JSON Schema, an event that names another station than its topic)
becomes a `Refusal`, whoever published it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from station.contract.schemas import NAME_PATTERN, problems
from station.contract.topics import Topics
from station.dashboard.store import (
    EventRecord,
    IngestReason,
    LiveRecord,
    Record,
    Refusal,
    StateRecord,
    StationKey,
    StatusRecord,
    SummaryRecord,
)
from station.dashboard.store.models import REASON, SESSION_ID


@dataclass(frozen=True)
class Kind:
    """A topic the dashboard stores: where it is under a station's base, its schema, and the
    largest payload it takes (bytes)."""

    topic: Callable[[Topics], str]
    schema: str
    max_bytes: int
    json: bool = True


KINDS = {
    # An event is well under 1 KiB (a note is at most 200 characters).
    "events": Kind(lambda topics: topics.events, "event", 8 * 1024),
    "status": Kind(lambda topics: topics.status, "status", 64, json=False),
    "state": Kind(lambda topics: topics.state, "state", 4 * 1024),
    # A summary lists every observation of the session, with its note.
    "summary": Kind(lambda topics: topics.summary, "summary", 1024 * 1024),
    # What the rooms page shows live, kept per station as the last retained copy.
    "counts": Kind(lambda topics: topics.counts, "counts", 16 * 1024),
    "aggregates": Kind(lambda topics: topics.aggregates, "aggregates", 64 * 1024),
    "health": Kind(lambda topics: topics.health, "health", 4 * 1024),
}

_NAME = re.compile(NAME_PATTERN)


def subscriptions(root: str) -> list[str]:
    """The topic filters for every station under `root`, one per kind."""
    return [kind.topic(Topics(root, "+", "+")) for kind in KINDS.values()]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large a number")
    return number


# One decoder for every message (json.loads with options builds a new one each call).
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


@lru_cache(maxsize=4096)
def _where(topic: str, root: str) -> tuple[StationKey, Kind] | None:
    """The station and kind of `topic` (remembered: each station sends on a few topics)."""
    parts = topic.removeprefix(f"{root}/").split("/", 2)
    if not topic.startswith(f"{root}/") or len(parts) < 3:
        return None
    key = StationKey(parts[0], parts[1])
    topics = Topics(root, key.site, key.name)
    for kind in KINDS.values():
        if kind.topic(topics) == topic:
            return key, kind
    return None


@lru_cache(maxsize=4096)
def _wrong_name(station: StationKey) -> str:
    for name in station:
        if not _NAME.fullmatch(name):
            return f"{name!r} in the topic is not a site or station name"
    return ""


def read_message(
    topic: str, payload: bytes, root: str, received: float, retained: bool = False
) -> Record | None:
    """The record `payload` on `topic` makes, a `Refusal`, or None for a topic the dashboard
    does not store."""
    found = _where(topic, root)
    if found is None:
        return None
    station, kind = found

    def refuse(reason: IngestReason, problem: str) -> Refusal:
        return Refusal(reason, topic, problem, received)

    wrong_name = _wrong_name(station)
    if wrong_name:
        return refuse(IngestReason.BAD_TOPIC, wrong_name)
    if len(payload) > kind.max_bytes:
        return refuse(IngestReason.OVERSIZED,
                      f"{len(payload)} bytes; {kind.schema} messages take at most "
                      f"{kind.max_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return refuse(IngestReason.NOT_UTF8, f"not UTF-8: {error.reason} at byte {error.start}")
    document: Any = text
    if kind.json:
        try:
            document = _DECODER.decode(text)
        except ValueError as error:
            return refuse(IngestReason.NOT_JSON, f"not JSON: {error}")
    wrong = problems(kind.schema, document)
    if not wrong and isinstance(document, dict):
        # A NUL or a lone surrogate can only come from a \u escape: UTF-8 decoding makes no
        # surrogate and strict JSON takes no raw control character.
        wrong = _unstorable(document, escaped="\\u" in text)
    if wrong:
        return refuse(IngestReason.SCHEMA, "; ".join(wrong))
    if kind.schema == "event":
        claimed = StationKey(document["site"], document["station"])
        if claimed != station:
            return refuse(IngestReason.WRONG_STATION,
                          f"an event of {claimed} on the topic of {station}")
        return EventRecord(station, document, received, retained)
    if kind.schema == "status":
        return StatusRecord(station, document, received, retained)
    if kind.schema == "state":
        return StateRecord(station, document, received, retained)
    if kind.schema == "summary":
        return SummaryRecord(station, document, received, retained)
    return LiveRecord(station, kind.schema, document, received, retained)


BIGGEST_SEQ = 2**63 - 1  # a BIGINT column


def _text_problem(value: Any) -> str:
    """What in `value`'s strings no database column can hold (PostgreSQL keeps no NUL; a lone
    surrogate from a ``\\ud800`` escape is not text at all); "" when nothing."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character (\\u0000)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (\\ud800 to \\udfff), which is not text"
        return ""
    items: list[Any] = []
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    return next((problem for problem in map(_text_problem, items) if problem), "")


def _unstorable(document: dict[str, Any], escaped: bool = True) -> list[str]:
    """What the schema allows but the store cannot hold."""
    wrong = []
    for key, limit in (("session", SESSION_ID), ("reason", REASON)):
        value = document.get(key)
        if isinstance(value, str) and len(value) > limit:
            wrong.append(f"{key}: longer than {limit} characters")
    seq = document.get("seq")
    if isinstance(seq, int) and seq > BIGGEST_SEQ:
        wrong.append(f"seq: larger than {BIGGEST_SEQ}")
    problem = _text_problem(document) if escaped else ""
    if problem:
        wrong.append(f"payload: {problem}")
    return wrong
