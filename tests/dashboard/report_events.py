"""For the report tests: events of one session as a station records them (a script with a
clock in seconds from the session's start), storing them as ingest does, and the text of a
PDF."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

from pypdf import PdfReader

from station.bench._history import History, messages
from station.contract.events import EventType
from station.dashboard.reports.stored import SessionPart
from station.dashboard.store import EventRecord, Record, StationKey, Store, SummaryRecord
from station.telemetry.eventlog import Event

T_WALL = 1764075600.0  # 2025-11-25 13:00 UTC, 14:00 in Berlin
T_MONO = 81234.5
PART = SessionPart("3fa9c1d2e4b5", StationKey("demo-site", "room-1"), 1)


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text read back out of a PDF, its white space (and no-break spaces) made
    single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", (page.extract_text() or "").replace("\xa0", " "))
            for page in reader.pages]


def write(store: Store, events: list[Event], station: StationKey = PART.station,
          summary: dict[str, Any] | None = None) -> None:
    """Store `events` (and a published `summary`) as ingest does, from `station`."""
    records: list[Record] = [EventRecord(station, message, 1.0)
                             for message in messages(History(station=station), events)]
    if summary is not None:
        records.append(SummaryRecord(station, summary, 1.0))
    store.write(records)


class SessionScript:
    """Build a session's events in order; `at` moves the clock (seconds from the start)."""

    def __init__(self, client: str = "C-7F3K", sound_set: str = "calm-bells",
                 session: str = PART.session_id, first_seq: int = 1) -> None:
        self.client, self.sound_set, self.session = client, sound_set, session
        self.seconds = 0.0
        self.events: list[Event] = []
        self.seq = first_seq

    def at(self, seconds: float) -> SessionScript:
        self.seconds = seconds
        return self

    def add(self, kind: EventType, input_: str | None = None, reason: str | None = None,
            hold_ms: float | None = None, detail: dict[str, Any] | None = None,
            seconds: float | None = None) -> SessionScript:
        when = self.seconds if seconds is None else seconds
        self.events.append(Event(
            seq=self.seq, id=uuid.uuid4().hex, type=kind, session=self.session,
            client=self.client, sound_set=self.sound_set, input=input_, reason=reason,
            t_wall=T_WALL + when, t_mono=T_MONO + when, hold_ms=hold_ms, detail=detail))
        self.seq += 1
        return self

    def start(self) -> SessionScript:
        return self.add(EventType.SESSION_START, detail={"audio_backend": "null", "volume": 1.0})

    def end(self) -> SessionScript:
        return self.add(EventType.SESSION_END)

    def press(self, name: str, hold_ms: float = 500.0) -> SessionScript:
        """An accepted press and, `hold_ms` later, its release."""
        self.add(EventType.PRESS, name)
        return self.add(EventType.RELEASE, name, hold_ms=hold_ms,
                        seconds=self.seconds + hold_ms / 1000.0)

    def reject(self, name: str, reason: str) -> SessionScript:
        return self.add(EventType.REJECTED, name, reason=reason)

    def observe(self, tag: str | None = None, note: str | None = None) -> SessionScript:
        detail = {key: value for key, value in (("tag", tag), ("note", note)) if value}
        return self.add(EventType.OBSERVATION, detail=detail)

    def cue(self, cue: str, target: str, latency_ms: float | None) -> SessionScript:
        """A cue on `target` now (5 s to answer), and its response after `latency_ms` (a
        press on the target) or, with None, its final no-response."""
        at = self.seconds
        self.add(EventType.CUE, detail={
            "cue": cue, "attempt": 1, "targets": [target], "window_ms": 5000,
            "call_ms": 750, "level": 0.42, "onset_sample": 1000})
        if latency_ms is None:
            return self.add(EventType.NO_RESPONSE, detail={"cue": cue, "attempt": 1,
                                                            "final": True}, seconds=at + 5.0)
        self.at(at + latency_ms / 1000.0).press(target)
        return self.add(EventType.RESPONSE, target, detail={
            "cue": cue, "attempt": 1, "latency_ms": latency_ms})

    def sound(self, name: str) -> SessionScript:
        self.sound_set = name
        return self.add(EventType.SOUND_SET_CHANGED, detail={"sound_set": name})

    def switch_client(self, pseudonym: str) -> SessionScript:
        self.client = pseudonym
        return self.add(EventType.CLIENT_CHANGED, detail={"client": pseudonym})


def example_session() -> SessionScript:
    """The session of the example paragraph: 12 minutes, 84 presses on three inputs, the
    longest engaged stretch 4 min 10 s, 4 presses too short and 2 too soon, 5 tagged responses
    of which 3 independent."""
    script = SessionScript().start()
    inputs = ("big-red", "big-blue", "head-switch")
    times = [10.0 + 5.0 * n for n in range(50)] + [259.5]  # one stretch: 10 s to 260 s
    times += [300.0 + 6.0 * n for n in range(33)]  # another: 300 s to 492.5 s
    actions: list[tuple[float, Any]] = [
        (seconds, lambda n=number: script.press(inputs[n % 3]))
        for number, seconds in enumerate(times)]
    actions += [(seconds, lambda reason=reason: script.reject("big-red", reason))
                for seconds, reason in ((12.0, "too_short"), (101.0, "too_short"),
                                        (302.0, "lockout"), (331.0, "too_short"),
                                        (401.0, "lockout"), (481.0, "too_short"))]
    actions += [(seconds, lambda tag=tag, note=note: script.observe(tag, note))
                for seconds, tag, note in ((21.0, "independent", None),
                                           (141.0, "prompted", "reached across"),
                                           (250.7, "independent", None),
                                           (320.0, "hand-over-hand", None),
                                           (451.0, "independent", "smiled"))]
    for seconds, action in sorted(actions, key=lambda item: item[0]):
        script.at(seconds)
        action()
    return script.at(720.0).end()
