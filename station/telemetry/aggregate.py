"""What the agent derives from the delivered events: the station's state, the running tally of
a session (aggregates) and the summary of a finished session.

All of it is computed in the agent's process from events already on disk, in order, so it can
be rebuilt from the log after a restart and never costs the engine anything.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

from station.config.client import GoalSection
from station.contract.events import EventType
from station.telemetry.eventlog import Event, EventReader
from station.telemetry.goals import cues_summary, goals_summary, opportunities

MINUTE = 60.0


class StationState:
    """Client, sound set, volume and session, as the delivered events say they are now."""

    def __init__(self) -> None:
        self.client = ""
        self.sound_set = ""
        self.volume = 1.0
        self.session = ""
        self.known = False

    def apply(self, event: Event) -> bool:
        """Follow one delivered event; True if the state changed."""
        before = self.message()
        self.known = True
        self.client, self.sound_set = event.client, event.sound_set
        self.session = "" if event.type == EventType.SESSION_END else event.session
        detail = event.detail or {}
        if event.type == EventType.VOLUME_CHANGED or (
            event.type == EventType.SESSION_START and "volume" in detail
        ):
            self.volume = float(detail["volume"])
        elif event.type == EventType.STATION_STATUS and detail.get("engine") == "started":
            self.volume = 1.0  # a (re)started engine plays at its client's ceiling
        return self.message() != before

    def restore(self, reader: EventReader, delivered_seq: int) -> None:
        """Replay the delivered events from the latest session start on."""
        latest = reader.latest_session()
        if latest is None or latest[1] > delivered_seq:
            return
        for event in reader.between(latest[1], delivered_seq):
            self.apply(event)

    def message(self) -> dict[str, Any]:
        return {"client": self.client, "sound_set": self.sound_set,
                "volume": round(self.volume, 3), "session": self.session}


class AudioStatus:
    """Whether the station's audio plays, as the delivered ``station_status`` events say: the
    engine records the loss and the return of its audio device, and a (re)started engine
    plays (it does not start without its audio)."""

    def __init__(self) -> None:
        self.audio = "playing"
        self.problem: str | None = None
        self.since: float | None = None

    def apply(self, event: Event) -> bool:
        """Follow one delivered event; True if the audio changed."""
        if event.type != EventType.STATION_STATUS:
            return False
        detail = event.detail or {}
        if detail.get("audio") == "lost":
            before = self.audio, self.problem
            self.audio, self.problem = "lost", str(detail.get("audio_problem") or "unknown")
        elif detail.get("audio") == "playing" or detail.get("engine") == "started":
            before = self.audio, self.problem
            self.audio, self.problem = "playing", None
        else:
            return False
        if before == (self.audio, self.problem) and self.since is not None:
            return False
        self.since = event.t_wall
        return before != (self.audio, self.problem)

    def restore(self, reader: EventReader, delivered_seq: int) -> None:
        """From the last delivered event that said how the audio is."""
        event = reader.latest_audio_status(delivered_seq)
        if event is not None:
            self.apply(event)

    def message(self) -> dict[str, Any]:
        return {"audio": self.audio, "audio_problem": self.problem, "audio_since": self.since}


class SessionTally:
    """The running aggregates of the current session: per-input accepted and rejected presses,
    rejections by reason, presses per minute."""

    def __init__(self) -> None:
        self._reset("", "", None)

    def _reset(self, session: str, client: str, started_mono: float | None) -> None:
        self.session = session
        self.client = client
        self.started_mono = started_mono
        self.counts: dict[str, int] = {}  # accepted presses per input
        self.rejected: dict[str, dict[str, int]] = {}  # input → reason → count
        self._recent: deque[float] = deque()  # t_mono of presses in the last minute

    def apply(self, event: Event) -> bool:
        """Count one delivered event; True if the accepted counts changed."""
        if event.type == EventType.SESSION_START:
            self._reset(event.session, event.client, event.t_mono)
            return True
        if event.session != self.session or event.input is None:
            return False
        self.client = event.client
        if event.type == EventType.PRESS:
            self.counts[event.input] = self.counts.get(event.input, 0) + 1
            self._recent.append(event.t_mono)
            return True
        if event.type == EventType.REJECTED:
            reasons = self.rejected.setdefault(event.input, {})
            reason = event.reason or "unknown"
            reasons[reason] = reasons.get(reason, 0) + 1
        return False

    def restore(self, reader: EventReader, delivered_seq: int) -> None:
        latest = reader.latest_session()
        if latest is None or latest[1] > delivered_seq:
            return
        for event in reader.between(latest[1], delivered_seq):
            self.apply(event)

    def presses_per_minute(self, now_mono: float | None = None) -> float:
        """Accepted presses in the last 60 s (engine and agent share the monotonic clock)."""
        now = time.monotonic() if now_mono is None else now_mono
        while self._recent and self._recent[0] < now - MINUTE:
            self._recent.popleft()
        return float(len(self._recent))

    def counts_message(self) -> dict[str, Any]:
        return {"session": self.session, "client": self.client, "counts": dict(self.counts)}

    def aggregates_message(self, period_seconds: float) -> dict[str, Any]:
        now = time.monotonic()
        inputs = sorted(set(self.counts) | set(self.rejected))
        accepted = sum(self.counts.values())
        minutes = (now - self.started_mono) / MINUTE if self.started_mono is not None else 0.0
        by_reason: dict[str, int] = {}
        for reasons in self.rejected.values():
            for reason, count in reasons.items():
                by_reason[reason] = by_reason.get(reason, 0) + count
        return {
            "session": self.session,
            "client": self.client,
            "period_s": period_seconds,
            "t_wall": time.time(),
            "inputs": {
                name: {"accepted": self.counts.get(name, 0),
                       "rejected": dict(self.rejected.get(name, {}))}
                for name in inputs
            },
            "accepted": accepted,
            "rejected": by_reason,
            "presses_per_minute": self.presses_per_minute(now),
            "session_presses_per_minute": round(accepted / minutes, 2) if minutes > 0 else 0.0,
        }


def _spread(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {"count": len(values), "mean": round(statistics.fmean(values), 1),
            "median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def session_summary(
    events: Iterable[Event], engaged_gap_seconds: float,
    goals_of: Callable[[str], Sequence[GoalSection]] = lambda client: (),
) -> dict[str, Any]:
    """The summary of one session, from its events in order; `goals_of(client)`: the goals
    of the session's client, scored in ``goals`` (station/telemetry/goals.py).

    A session without a `session_end` (the engine was killed, or the power cut) is summarised
    up to its last event and marked ``"ended_by": "interrupted"``.

    An engaged stretch is a run of accepted presses each at most `engaged_gap_seconds` after
    the one before; it lasts from its first press to its last release (or last press). Active
    time is the sum of the stretches.
    """
    start: Event | None = None
    end: Event | None = None
    counts: dict[str, int] = {}
    rejected: dict[str, int] = {}
    rejected_by_input: dict[str, dict[str, int]] = {}
    holds: list[float] = []
    press_times: list[float] = []
    stretch_ends: dict[int, float] = {}  # press index → when its release came
    open_press: dict[str, int] = {}  # input → index of its press not yet released
    observations: list[dict[str, Any]] = []
    tags: dict[str, int] = {}
    last: Event | None = None
    events = list(events)
    for event in events:
        last = event
        if event.type == EventType.SESSION_START:
            start = event
        elif event.type == EventType.SESSION_END:
            end = event
        elif event.type == EventType.PRESS and event.input is not None:
            counts[event.input] = counts.get(event.input, 0) + 1
            open_press[event.input] = len(press_times)
            press_times.append(event.t_mono)
        elif event.type == EventType.RELEASE and event.input is not None:
            if event.hold_ms is not None:
                holds.append(event.hold_ms)
            index = open_press.pop(event.input, None)
            if index is not None:
                stretch_ends[index] = event.t_mono
        elif event.type == EventType.REJECTED and event.input is not None:
            reason = event.reason or "unknown"
            rejected[reason] = rejected.get(reason, 0) + 1
            per_input = rejected_by_input.setdefault(event.input, {})
            per_input[reason] = per_input.get(reason, 0) + 1
        elif event.type == EventType.OBSERVATION and event.detail:
            observations.append({"t_wall": event.t_wall, **event.detail})
            if "tag" in event.detail:
                tags[event.detail["tag"]] = tags.get(event.detail["tag"], 0) + 1
    gaps = [(b - a) * 1000.0 for a, b in pairwise(press_times)]
    stretches: list[tuple[float, int]] = []  # (seconds, presses)
    first = 0
    for index in range(1, len(press_times) + 1):
        if index == len(press_times) or (
            press_times[index] - press_times[index - 1] > engaged_gap_seconds
        ):
            last_end = max(stretch_ends.get(i, press_times[i]) for i in range(first, index))
            stretches.append((last_end - press_times[first], index - first))
            first = index
    longest = max(stretches, default=(0.0, 0))
    reference = start or end
    last_mono = end.t_mono if end else (last.t_mono if last else None)
    active_s = round(sum(seconds for seconds, _ in stretches), 3)
    found = opportunities(events)
    client = reference.client if reference else ""
    return {
        "session": reference.session if reference else "",
        "client": reference.client if reference else "",
        "sound_set": reference.sound_set if reference else "",
        "started_t_wall": start.t_wall if start else None,
        "ended_t_wall": end.t_wall if end else None,
        "ended_by": "session_end" if end else "interrupted",
        "duration_s": round(last_mono - start.t_mono, 3)
        if start and last_mono is not None else None,
        "counts": counts,
        "accepted": len(press_times),
        "rejected": rejected,
        "rejected_by_input": rejected_by_input,
        "hold_ms": _spread(holds),
        "gap_ms": _spread(gaps),
        "engaged_gap_s": engaged_gap_seconds,
        "active_s": active_s,
        "longest_engaged_stretch": {"seconds": round(longest[0], 3), "presses": longest[1]},
        "observation_tags": tags,
        "observations": observations,
        "cues": cues_summary(found),
        "goals": goals_summary(goals_of(client), found, active_s) if client else [],
        "sensors": sensors_summary(events),
    }


def sensors_summary(events: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """Per variable sensor: its movements, the lowest and highest of their peaks (how far the
    client reached, 0–1 of their own range), and the entries into and time spent in each zone
    (zones 1 upward, as strings).

    A zone lasts from its `zone` event to the sensor's next zone, the end of the movement
    (the hand left), a lost sensor, or the session's last event.
    """
    found: dict[str, dict[str, Any]] = {}
    inside: dict[str, tuple[str, float]] = {}  # input → (zone, since)

    def sensor(name: str) -> dict[str, Any]:
        return found.setdefault(name, {"movements": 0, "peaks": None, "zone_entries": {},
                                       "zone_seconds": {}})

    def leave(name: str, at: float) -> None:
        zone = inside.pop(name, None)
        if zone is not None:
            seconds = sensor(name)["zone_seconds"]
            seconds[zone[0]] = round(seconds.get(zone[0], 0.0) + at - zone[1], 3)

    last_mono = events[-1].t_mono if events else 0.0
    for event in events:
        name = event.input
        if name is None:
            continue
        if event.type == EventType.ZONE and event.detail:
            leave(name, event.t_mono)
            zone = str(event.detail["zone"])
            entries = sensor(name)["zone_entries"]
            entries[zone] = entries.get(zone, 0) + 1
            inside[name] = (zone, event.t_mono)
        elif event.type == EventType.MOVEMENT and event.detail:
            leave(name, event.t_mono)
            summary = sensor(name)
            summary["movements"] += 1
            peak = float(event.detail["peak"])
            reached = summary["peaks"]
            summary["peaks"] = [peak, peak] if reached is None else [
                min(reached[0], peak), max(reached[1], peak)]
        elif event.type == EventType.SENSOR_LOST:
            leave(name, event.t_mono)
            sensor(name)
    for name in list(inside):
        leave(name, last_mono)
    return found


class PressGaps:
    """Milliseconds since the previous accepted press of the same session, for each press.

    Kept in memory as events are published in order; looked up in the log when the memory
    does not reach back (after a restart, or when a failed batch is published again).
    """

    def __init__(self, reader: EventReader) -> None:
        self._reader = reader
        self._last: tuple[str, int, float] | None = None  # session, seq, t_mono

    def gap_ms(self, event: Event) -> float | None:
        if event.type != EventType.PRESS:
            return None
        last = self._last
        if last is not None and last[0] == event.session and last[1] < event.seq:
            previous: float | None = last[2]
        else:
            previous = self._reader.previous_press(event.session, event.seq)
        self._last = (event.session, event.seq, event.t_mono)
        return None if previous is None else (event.t_mono - previous) * 1000.0
