"""`cmd/replay`: the agent publishes a range of the event log again, for a dashboard that
found a gap in a station's `seq` (docs/mqtt.md, "Commands").

The engine never hears of it: the events are read from the durable log, published with their
own ids (a consumer that has one already drops it), at most REPLAY_EVENTS_PER_SECOND so that
live delivery and the broker are not swamped, and answered with one ack when the range is done.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from station.contract.commands import replay_max_events
from station.telemetry.aggregate import PressGaps
from station.telemetry.eventlog import Event, EventReader

REPLAY_EVENTS_PER_SECOND = 1000.0
CHUNK_EVENTS = 100  # published and acknowledged together
MAX_REPLAY_EVENTS = replay_max_events()  # per command; more are asked for in several commands
MAX_WAITING_REPLAYS = 8


@dataclass
class _Replay:
    command_id: str | None
    from_seq: int
    to_seq: int
    next_seq: int = 0  # the first seq not yet published
    replayed: int = 0
    missing: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.next_seq = self.from_seq

    def note_missing(self, up_to: int) -> None:
        """Seqs from next_seq to `up_to` are not in the log."""
        if up_to >= self.next_seq:
            self.missing.append([self.next_seq, up_to])


class Replays:
    """Queued replay requests and the one in progress.

    `request` runs on the command worker's thread and only queues; `step` runs on the agent's
    delivery thread, which owns the request in progress and the reader.
    """

    def __init__(
        self, reader: EventReader, message: Callable[[Event, float | None], dict[str, Any]],
        rate: float = REPLAY_EVENTS_PER_SECOND,
    ) -> None:
        self._reader = reader
        self._message = message  # an event as published, given its gap_ms
        # Replays have their own gap memory: the live one must not learn from old events.
        self._gaps = PressGaps(reader)
        self._rate = rate
        self._waiting: queue.Queue[_Replay] = queue.Queue(MAX_WAITING_REPLAYS)
        self._current: _Replay | None = None
        self._next_due = 0.0

    def request(self, command_id: str | None, command: dict[str, Any]) -> dict[str, Any] | None:
        """Queue one schema-checked replay command; a refusal, or None: the ack comes later."""
        first, last = int(command["from_seq"]), int(command["to_seq"])
        if last < first:
            return {"error": f"to_seq ({last}) is before from_seq ({first}); give the range "
                             "in order"}
        if last - first + 1 > MAX_REPLAY_EVENTS:
            return {"error": f"at most {MAX_REPLAY_EVENTS} events per replay, not "
                             f"{last - first + 1}; ask for the rest in another command"}
        try:
            self._waiting.put_nowait(_Replay(command_id, first, last))
        except queue.Full:
            return {"error": f"busy: {MAX_WAITING_REPLAYS} replays are waiting; send it again "
                             "once one is answered"}
        return None

    def step(
        self, publish: Callable[[list[dict[str, Any]]], bool],
        acknowledge: Callable[[dict[str, Any]], None],
    ) -> int:
        """Publish the next chunk of the replay in progress, if its time has come; the number
        of events published. `publish` returns True once the broker acknowledged them all."""
        if self._current is None:
            try:
                self._current = self._waiting.get_nowait()
            except queue.Empty:
                return 0
        now = time.monotonic()
        if now < self._next_due:
            return 0
        replay = self._current
        events = [event for event in self._reader.after(replay.next_seq - 1, CHUNK_EVENTS)
                  if event.seq <= replay.to_seq]
        if events and not publish([self._message(event, self._gaps.gap_ms(event))
                                   for event in events]):
            return 0  # not acknowledged: the same chunk again later
        for event in events:
            replay.note_missing(event.seq - 1)
            replay.next_seq = event.seq + 1
        replay.replayed += len(events)
        self._next_due = now + len(events) / self._rate
        if len(events) < CHUNK_EVENTS or replay.next_seq > replay.to_seq:
            replay.note_missing(replay.to_seq)
            acknowledge({"id": replay.command_id, "command": "replay", "ok": True,
                         "replayed": replay.replayed, "missing": replay.missing})
            self._current = None
        return len(events)
