"""What the store is handed to write: messages already checked against the contract, and
the refusals of those that were not.

``received`` is the dashboard's clock (Unix seconds) when the message arrived; ``retained``
says the broker handed over a retained copy (on subscribing) rather than the station sending
it just now, so it does not count as the station being seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple


class IngestReason(StrEnum):
    """Why ingest counted a message. The first seven refuse it: it is stored nowhere."""

    OVERSIZED = "oversized"
    """larger than its topic allows"""
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    """not JSON (``NaN`` and ``Infinity`` are not JSON either)"""
    SCHEMA = "schema"
    """JSON that its topic's schema refuses"""
    BAD_TOPIC = "bad_topic"
    """a site or station in the topic that is not a valid name"""
    WRONG_STATION = "wrong_station"
    """an event whose ``site``/``station`` are not those of the topic it came on"""
    UNSTORABLE = "unstorable"
    """valid by the contract, yet the database refused it (the error is in the log)"""
    DUPLICATE = "duplicate"
    """an event id already stored (a QoS 1 redelivery): nothing changed"""
    SEQ_REUSED = "seq_reused"
    """a new event id with a seq the station had already used (its log was reset?): stored"""

    @property
    def refuses(self) -> bool:
        return self not in (IngestReason.DUPLICATE, IngestReason.SEQ_REUSED)


class StationKey(NamedTuple):
    """A station as topics and events name it: its site and its id within the site.

    A named tuple, not a dataclass: ingest hashes and compares it several times for every
    message, and a tuple does that in C."""

    site: str
    name: str

    def __str__(self) -> str:
        return f"{self.site}/{self.name}"


@dataclass(frozen=True)
class EventRecord:
    """One message of ``<base>/events`` that matched ``event.json``."""

    station: StationKey
    message: dict[str, Any]
    received: float
    retained: bool = False


@dataclass(frozen=True)
class StatusRecord:
    """``<base>/status``: ``online`` or ``offline``."""

    station: StationKey
    status: str
    received: float
    retained: bool = False


@dataclass(frozen=True)
class StateRecord:
    """``<base>/state``: client, sound set, volume and session (``state.json``)."""

    station: StationKey
    state: dict[str, Any]
    received: float
    retained: bool = False


@dataclass(frozen=True)
class SummaryRecord:
    """``<base>/session/summary``: a station's summary of a session (``summary.json``)."""

    station: StationKey
    summary: dict[str, Any]
    received: float
    retained: bool = False


@dataclass(frozen=True)
class LiveRecord:
    """A retained document the rooms page shows as it is: ``session/counts``,
    ``session/aggregates`` or ``status/health`` (`kind` names which, as `LIVE_KINDS`)."""

    station: StationKey
    kind: str
    document: dict[str, Any]
    received: float
    retained: bool = False


LIVE_KINDS = ("counts", "aggregates", "health")


@dataclass(frozen=True)
class Refusal:
    """A message that is counted under `reason` and not stored."""

    reason: IngestReason
    topic: str
    problem: str
    received: float


Record = EventRecord | StatusRecord | StateRecord | SummaryRecord | LiveRecord | Refusal


@dataclass(frozen=True)
class SeqGap:
    """Seqs ``from_seq`` to ``to_seq`` (inclusive) of one station that the store lacks."""

    station: StationKey
    from_seq: int
    to_seq: int


@dataclass
class BatchResult:
    """What writing one batch did."""

    stored: int = 0
    """events stored that were not stored before"""
    counted: dict[IngestReason, int] = field(default_factory=dict)
    """messages counted, by reason"""

    def count(self, reason: IngestReason) -> int:
        return self.counted.get(reason, 0)
