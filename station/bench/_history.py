"""A client's history made up for benchmarks and tests: sessions of contract-valid events, as
a station records and publishes them, with the summary its agent would publish for each.

Deterministic for a seed. Each session starts and ends, has presses with releases, some
presses not counted (too short, too soon, bounce), tagged observations, and now and then a
sound set or the client's settings change (in every 9th and every 7th session at least);
every fifth session uses another sound set.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from station.contract.events import EventType
from station.dashboard.store import EventRecord, Record, StationKey, Store, SummaryRecord
from station.telemetry.aggregate import session_summary
from station.telemetry.eventlog import Event

SOUND_SETS = ("calm-bells", "warm-strings", "drum-circle")
INPUTS = ("big-red", "big-blue", "head-switch")
TAGS = ("independent", "independent", "prompted", "hand-over-hand")
DAY = 86400.0
FIRST_DAY = 1764057600.0  # 2025-11-25 08:00 UTC


@dataclass(frozen=True)
class History:
    """What to make: `sessions` sessions of about `events_per_session` events each."""

    client: str = "C-7F3K"
    station: StationKey = field(default_factory=lambda: StationKey("demo-site", "room-1"))
    sessions: int = 200
    events_per_session: int = 2500
    seed: int = 7


class _Clock:
    def __init__(self, t_wall: float, t_mono: float) -> None:
        self.t_wall, self.t_mono = t_wall, t_mono

    def advance(self, seconds: float) -> None:
        self.t_wall += seconds
        self.t_mono += seconds


def session_events(history: History, index: int, first_seq: int) -> list[Event]:
    """The events of session `index` (from 0), numbered from `first_seq`."""
    rng = random.Random(history.seed * 100003 + index)
    clock = _Clock(FIRST_DAY + index * DAY / 2, 5000.0 + index * DAY)
    session = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    sound_set = SOUND_SETS[0] if index % 5 else SOUND_SETS[(index // 5) % len(SOUND_SETS)]
    events: list[Event] = []

    def add(kind: EventType, input_: str | None = None, reason: str | None = None,
            hold_ms: float | None = None, detail: dict[str, Any] | None = None) -> None:
        events.append(Event(seq=first_seq + len(events), id=uuid.UUID(
            int=rng.getrandbits(128)).hex, type=kind, session=session, client=history.client,
            sound_set=sound_set, input=input_, reason=reason, t_wall=round(clock.t_wall, 3),
            t_mono=round(clock.t_mono, 3), hold_ms=hold_ms, detail=detail))

    add(EventType.SESSION_START, detail={"audio_backend": "null", "volume": 1.0})
    reloaded = changed = 0  # where the set changes were made (0: not yet)
    while len(events) < history.events_per_session - 1:
        clock.advance(rng.choice((0.4, 0.8, 1.2, 2.0, 3.0, 15.0)))
        roll = rng.random()
        name = rng.choice(INPUTS)
        if index % 7 == 3 and len(events) >= history.events_per_session // 3 > reloaded:
            add(EventType.CLIENT_CHANGED, detail={"client": history.client})  # a reload
            reloaded = len(events)
        elif index % 9 == 4 and len(events) >= history.events_per_session // 2 > changed:
            sound_set = SOUND_SETS[(SOUND_SETS.index(sound_set) + 1) % len(SOUND_SETS)]
            add(EventType.SOUND_SET_CHANGED, detail={"sound_set": sound_set})
            changed = len(events)
        elif roll < 0.05:
            add(EventType.REJECTED, name, rng.choice(("too_short", "lockout", "bounce")),
                detail={"edges": 2} if roll < 0.01 else None)
        elif roll < 0.07:
            tag = rng.choice(TAGS)
            add(EventType.OBSERVATION, detail={"tag": tag, "note": "reached for it"}
                if roll < 0.055 else {"tag": tag})
        elif roll < 0.0705:
            sound_set = rng.choice(SOUND_SETS)
            add(EventType.SOUND_SET_CHANGED, detail={"sound_set": sound_set})
        elif roll < 0.0708:
            add(EventType.CLIENT_CHANGED, detail={"client": history.client})
        else:
            add(EventType.PRESS, name)
            hold = rng.choice((120.0, 250.0, 400.0, 700.0, 1500.0))
            clock.advance(hold / 1000.0)
            add(EventType.RELEASE, name, hold_ms=hold)
    clock.advance(2.0)
    add(EventType.SESSION_END)
    return events


def messages(history: History, events: list[Event]) -> list[dict[str, Any]]:
    """The events as the agent publishes them (with each press's ``gap_ms``)."""
    out = []
    previous: float | None = None
    for event in events:
        gap = None
        if event.type == EventType.PRESS:
            gap = None if previous is None else (event.t_mono - previous) * 1000.0
            previous = event.t_mono
        out.append(event.as_message(history.station.name, history.station.site, gap))
    return out


def sessions(history: History) -> Iterator[tuple[list[Event], dict[str, Any]]]:
    """Each session's events and the summary its station would publish."""
    seq = 1
    for index in range(history.sessions):
        events = session_events(history, index, seq)
        seq += len(events)
        yield events, session_summary(events, 10.0)


BATCH = 500  # records per transaction, as ingest writes them


def fill(store: Store, history: History, received: float = FIRST_DAY) -> int:
    """Write the history into `store` through its own door (`Store.write`), in batches as
    ingest writes them; the number of events written."""
    written = 0
    for events, summary in sessions(history):
        records: list[Record] = [EventRecord(history.station, message, received)
                                 for message in messages(history, events)]
        records.append(SummaryRecord(history.station, summary, received))
        for first in range(0, len(records), BATCH):
            written += store.write(records[first:first + BATCH]).stored
    return written
