"""What a session report shows: who, when, how long, the sound sets, counts per input, presses
that were not counted and why, a timeline, observations and notes.

The figures (counts, rejections, engaged stretches, hold times, tags, duration) are the
session's summary: the one the station published when it has arrived (the station's log is
the source of truth, and the dashboard may still lack some events), else the same summary
recomputed from the stored events (`summary.recomputed_summary`). The timeline comes from the
stored events. Times are seconds from the session's start on the station's monotonic clock,
and local times in the time zone the caller names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from sqlalchemy.orm import Session

from station.contract.events import EventType
from station.dashboard.reports.stored import (
    SessionPart,
    part_events,
    published_summary,
    session_part,
)
from station.dashboard.reports.summary import engaged_gap_seconds, summary_of
from station.dashboard.reports.words import reason_words
from station.dashboard.store import StationKey
from station.telemetry.eventlog import Event

MINUTE = 60.0


@dataclass(frozen=True)
class Moment:
    """A point in the session: `seconds` from its start and the local time `at`."""

    seconds: float
    at: datetime


@dataclass(frozen=True)
class SoundSetPeriod:
    """A sound set, played from `since` until the next one (or the end)."""

    sound_set: str
    since: Moment


@dataclass(frozen=True)
class InputTally:
    """One input's accepted presses and its rejected ones by reason code."""

    input: str
    accepted: int
    rejected: dict[str, int]

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class Press:
    """An accepted press; `hold_ms` once its release is stored (None: not released yet)."""

    at: Moment
    input: str
    hold_ms: float | None


@dataclass(frozen=True)
class Rejection:
    """A press that was not counted, with the station's reason code."""

    at: Moment
    input: str
    reason: str

    @property
    def words(self) -> str:
        return reason_words(self.reason)


@dataclass(frozen=True)
class Observation:
    """A therapist's tag (``independent``, ``prompted``, ``hand-over-hand``) and/or note."""

    at: Moment
    tag: str | None
    note: str | None


@dataclass(frozen=True)
class Change:
    """A ``sound_set_changed`` or ``client_changed`` (another client, or the same client's
    profile applied again after its settings were reloaded), with what it changed to."""

    at: Moment
    kind: str
    value: str


@dataclass(frozen=True)
class SessionReport:
    """Everything a session report shows, for one station's part of a session."""

    session_id: str
    station: StationKey
    clients: tuple[str, ...]
    """pseudonyms, in the order they played"""
    started: datetime | None
    ended: datetime | None
    ended_by: str
    """``session_end``, or ``interrupted`` (never ended: summarised to its last event)"""
    duration_s: float | None
    sound_sets: tuple[SoundSetPeriod, ...]
    inputs: tuple[InputTally, ...]
    accepted: int
    rejected: dict[str, int]
    """reason code → presses not counted"""
    active_s: float
    longest_stretch_s: float
    longest_stretch_presses: int
    hold_ms: dict[str, float]
    """``count`` and, with any, ``mean``, ``median``, ``max`` (ms)"""
    observation_tags: dict[str, int]
    presses: tuple[Press, ...]
    rejections: tuple[Rejection, ...]
    observations: tuple[Observation, ...]
    changes: tuple[Change, ...]
    summary: dict[str, Any]
    """the summary the figures come from"""
    summary_source: Literal["station", "dashboard"]
    """``station``: as it published it; ``dashboard``: recomputed from the stored events"""

    @property
    def presses_per_minute(self) -> float | None:
        """Accepted presses per minute of the session; None without a duration."""
        if not self.duration_s:
            return None
        return self.accepted / (self.duration_s / MINUTE)

    @property
    def tagged(self) -> int:
        return sum(self.observation_tags.values())

    @property
    def independent(self) -> int:
        return self.observation_tags.get("independent", 0)


def session_report(
    db: Session, session_id: str, tz: tzinfo, station: StationKey | None = None
) -> SessionReport:
    """The report of `session_id` (on `station`, or its only station), times in `tz`.
    ReportError if the store does not hold it."""
    part = session_part(db, session_id, station)
    published = published_summary(db, part)
    events = part_events(db, part)
    if published is not None:
        return build_report(part, events, published, "station", tz)
    return build_report(part, events, summary_of(events, engaged_gap_seconds(None)),
                        "dashboard", tz)


def build_report(
    part: SessionPart, events: list[Event], summary: dict[str, Any],
    source: Literal["station", "dashboard"], tz: tzinfo,
) -> SessionReport:
    """The report of `part` from its events (in seq order) and its summary."""
    start = next((e for e in events if e.type == EventType.SESSION_START), None)
    origin = start or (events[0] if events else None)

    def moment(event: Event) -> Moment:
        seconds = event.t_mono - origin.t_mono if origin else 0.0
        return Moment(round(seconds, 3), local(event.t_wall, tz))

    clients: list[str] = []
    periods: list[SoundSetPeriod] = []
    presses: list[dict[str, Any]] = []
    open_press: dict[str, int] = {}
    rejections: list[Rejection] = []
    observations: list[Observation] = []
    changes: list[Change] = []
    for event in events:
        if event.client and event.client not in clients:
            clients.append(event.client)
        playing = periods[-1].sound_set if periods else None
        if event.sound_set and event.sound_set != playing:
            periods.append(SoundSetPeriod(event.sound_set, moment(event)))
        detail = event.detail or {}
        if event.type == EventType.PRESS and event.input is not None:
            open_press[event.input] = len(presses)
            presses.append({"at": moment(event), "input": event.input, "hold_ms": None})
        elif event.type == EventType.RELEASE and event.input is not None:
            index = open_press.pop(event.input, None)
            if index is not None:
                presses[index]["hold_ms"] = event.hold_ms
        elif event.type == EventType.REJECTED and event.input is not None:
            rejections.append(Rejection(moment(event), event.input, event.reason or "unknown"))
        elif event.type == EventType.OBSERVATION:
            observations.append(Observation(moment(event), detail.get("tag"), detail.get("note")))
        elif event.type in (EventType.SOUND_SET_CHANGED, EventType.CLIENT_CHANGED):
            value = detail.get("sound_set" if event.type == EventType.SOUND_SET_CHANGED
                               else "client", "")
            changes.append(Change(moment(event), event.type, str(value)))
    if not clients and summary.get("client"):
        clients.append(summary["client"])
    if not periods and summary.get("sound_set") and summary.get("started_t_wall") is not None:
        # Only the summary is stored (the events are still to come): its sound set.
        periods.append(SoundSetPeriod(summary["sound_set"], Moment(0.0, _started(summary, tz))))
    counts: dict[str, int] = summary.get("counts", {})
    by_input: dict[str, dict[str, int]] = summary.get("rejected_by_input", {})
    longest = summary.get("longest_engaged_stretch", {})
    return SessionReport(
        session_id=part.session_id,
        station=part.station,
        clients=tuple(clients),
        started=_started(summary, tz) if summary.get("started_t_wall") is not None else None,
        ended=local(summary["ended_t_wall"], tz)
        if summary.get("ended_t_wall") is not None else None,
        ended_by=summary.get("ended_by", "interrupted"),
        duration_s=summary.get("duration_s"),
        sound_sets=tuple(periods),
        inputs=tuple(InputTally(name, counts.get(name, 0), dict(by_input.get(name, {})))
                     for name in sorted(set(counts) | set(by_input))),
        accepted=int(summary.get("accepted", 0)),
        rejected=dict(summary.get("rejected", {})),
        active_s=float(summary.get("active_s", 0.0)),
        longest_stretch_s=float(longest.get("seconds", 0.0)),
        longest_stretch_presses=int(longest.get("presses", 0)),
        hold_ms=dict(summary.get("hold_ms", {"count": 0})),
        observation_tags=dict(summary.get("observation_tags", {})),
        presses=tuple(Press(**press) for press in presses),
        rejections=tuple(rejections),
        observations=tuple(observations),
        changes=tuple(changes),
        summary=summary,
        summary_source=source,
    )


def local(t_wall: float, tz: tzinfo) -> datetime:
    """Unix time `t_wall` (seconds) as an aware local time in `tz`."""
    return datetime.fromtimestamp(t_wall, tz)


def _started(summary: dict[str, Any], tz: tzinfo) -> datetime:
    return local(summary["started_t_wall"], tz)
