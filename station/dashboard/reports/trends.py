"""A client's trends across sessions, as lists of points ready for a chart.

One point per station part of every session the client took part in, oldest first: accepted
presses per minute, active time, longest engaged stretch, share of tagged responses that were
independent, presses not counted by reason, hold times. Markers say where the sound set or the
client's settings changed.

Fast for a long history (issue 10: a client page for 200 sessions and 500,000 events in
under 200 ms): the figures of each session are its stored summary (``session_summaries``, one
row per session, published by the station when it ended), read in one query; only a session
without one (still running, or its summary on its way) is summarised from its events. The
summary holds a session's hold times as count, mean, median and longest; quartiles would need
every release of every session (0.8 s for 500,000 events on SQLite), so the spread shown is
the mean and the longest. Markers come from the client's ``sound_set_changed`` and
``client_changed`` events (`changes`), those of finished sessions kept in a `ChangeCache`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from station.contract.events import EventType
from station.dashboard.reports.changes import ChangeCache, changes_between_sessions, part_changes
from station.dashboard.reports.session_report import local
from station.dashboard.reports.stored import SessionPart, part_events
from station.dashboard.reports.summary import DEFAULT_ENGAGED_GAP_SECONDS, summary_of
from station.dashboard.store import StationKey
from station.dashboard.store.models import (
    SessionParticipant,
    SessionSoundSet,
    SessionSummary,
    Station,
    TherapySession,
)

MINUTE = 60.0
MarkerKind = Literal["sound_set_changed", "client_changed", "sound_set_differs"]


@dataclass(frozen=True)
class TrendPoint:
    """One session (one station's part of it) of the client."""

    session_id: str
    station: StationKey
    t_wall: float
    """when it started (Unix seconds): the chart's x"""
    station_id: int = field(repr=False, compare=False)
    started: datetime
    ended_by: str
    duration_s: float | None
    sound_sets: tuple[str, ...]
    """in the order they first played"""
    accepted: int
    presses_per_minute: float | None
    active_s: float
    longest_stretch_s: float
    longest_stretch_presses: int
    tagged: int
    independent: int
    rejected: dict[str, int]
    """reason code → presses not counted"""
    hold_count: int
    hold_median_ms: float | None
    hold_mean_ms: float | None
    hold_max_ms: float | None
    summary_source: Literal["station", "dashboard"]
    goals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """goal name → its result in this session, as the summary's ``goals`` gives it"""
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """variable sensor → its use in this session, as the summary's ``sensors`` gives it"""

    @property
    def independent_share(self) -> float | None:
        """Independent responses as a share (0 to 1) of the tagged ones; None if none."""
        return self.independent / self.tagged if self.tagged else None

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class TrendMarker:
    """Where something changed: a ``sound_set_changed`` or ``client_changed`` event (its
    session, or None between sessions), or a session that began with another sound set than
    the one before it ended with (``sound_set_differs``)."""

    t_wall: float
    at: datetime
    kind: MarkerKind
    value: str
    """the sound set, or the client pseudonym"""
    session_id: str | None

    @property
    def label(self) -> str:
        if self.kind == "client_changed":
            return f"client settings applied ({self.value})"
        if self.kind == "sound_set_changed":
            return f"sound set changed to {self.value}"
        return f"session with another sound set ({self.value})"


@dataclass(frozen=True)
class GoalProgress:
    """One goal of the client across the sessions that scored it."""

    name: str
    behaviour: str
    criterion_percent: float
    criterion_sessions: int
    target_date: str | None
    percents: tuple[float | None, ...]
    """per session of the trends (None: the goal was not scored, or had no opportunity)"""
    met_on: datetime | None
    """the session that completed the criterion's run of sessions, if one did"""
    description: str = ""

    @property
    def words(self) -> str:
        run = ("session" if self.criterion_sessions == 1
               else f"{self.criterion_sessions} sessions in a row")
        return f"at least {self.criterion_percent:g} % in {run}"


def goal_progress(points: Sequence[TrendPoint]) -> list[GoalProgress]:
    """Each goal any session scored, in the order the latest session lists them, with the
    date its criterion was first met: the last of `criterion_sessions` consecutive scored
    sessions each at or above `criterion_percent` (the newest session's criterion counts)."""
    names: list[str] = []
    for point in reversed(points):
        names.extend(name for name in point.goals if name not in names)
    progress = []
    for name in names:
        latest = next(point.goals[name] for point in reversed(points) if name in point.goals)
        criterion = latest.get("criterion", {})
        percent_needed = float(criterion.get("percent", 100.0))
        run_needed = int(criterion.get("sessions", 1))
        percents = tuple(point.goals[name].get("percent") if name in point.goals else None
                         for point in points)
        met_on, run = None, 0
        for point, percent in zip(points, percents, strict=True):
            if percent is None:
                continue  # a session without an opportunity neither breaks nor extends a run
            run = run + 1 if percent >= percent_needed else 0
            if run >= run_needed and met_on is None:
                met_on = point.started
        progress.append(GoalProgress(name, str(latest.get("behaviour", "")), percent_needed,
                                     run_needed, latest.get("target_date"), percents, met_on,
                                     str(latest.get("description", ""))))
    return progress


@dataclass(frozen=True)
class ClientTrends:
    client: str
    points: tuple[TrendPoint, ...]
    markers: tuple[TrendMarker, ...]

    @property
    def goals(self) -> list[GoalProgress]:
        return goal_progress(self.points)

    def chart_data(self) -> dict[str, Any]:
        """Columns for a chart library (uPlot's ``[x, y1, y2, ...]``): ``x`` the sessions'
        start times (Unix seconds) and one list per measure, ``None`` where a session has no
        value; and the markers."""
        points = self.points
        reasons = sorted({code for point in points for code in point.rejected})
        sensors = sorted({name for point in points for name in point.sensors})
        series: dict[str, list[Any]] = {
            "presses_per_minute": [_round(p.presses_per_minute, 2) for p in points],
            "active_min": [round(p.active_s / MINUTE, 2) for p in points],
            "longest_stretch_min": [round(p.longest_stretch_s / MINUTE, 2) for p in points],
            "independent_share": [_round(p.independent_share, 3) for p in points],
            "hold_median_ms": [p.hold_median_ms for p in points],
            "hold_mean_ms": [p.hold_mean_ms for p in points],
            "hold_max_ms": [p.hold_max_ms for p in points],
            **{f"rejected.{code}": [p.rejected.get(code, 0) for p in points]
               for code in reasons},
            # How far the client reached on each sensor, % of their own range: the highest
            # and the lowest movement peak of each session.
            **{f"sensor.{name}.{key}": [_peak_percent(p.sensors.get(name), index)
                                        for p in points]
               for name in sensors for key, index in (("highest_peak", 1),
                                                      ("lowest_peak", 0))},
        }
        return {
            "client": self.client,
            "x": [p.t_wall for p in points],
            "sessions": [p.session_id for p in points],
            "series": series,
            "markers": [{"x": m.t_wall, "kind": m.kind, "value": m.value, "label": m.label,
                         "session": m.session_id} for m in self.markers],
        }


def _peak_percent(sensor: dict[str, Any] | None, index: int) -> float | None:
    peaks = (sensor or {}).get("peaks")
    return round(float(peaks[index]) * 100, 1) if peaks else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _figures(db: Session) -> ColumnElement[Any]:
    """The stored summary without its list of observations (the trends need only the
    tags' counts), so the database does not hand over and Python decode every note."""
    if db.get_bind().dialect.name == "postgresql":
        return SessionSummary.summary.op("-", return_type=SessionSummary.summary.type)(
            literal("observations"))
    return func.json_remove(SessionSummary.summary, "$.observations",
                            type_=SessionSummary.summary.type)


def client_trends(
    db: Session, client: str, tz: tzinfo, cache: ChangeCache | None = None
) -> ClientTrends:
    """The trends of `client` (a pseudonym) across every session stored, times in `tz`.

    `cache` keeps the change markers of finished sessions between calls (one per dashboard
    process); without it they are found again each time.
    """
    rows = db.execute(
        select(SessionParticipant.session_id, SessionParticipant.station_id,
               SessionParticipant.first_t_wall, Station.site, Station.name,
               TherapySession.started_t_wall, _figures(db))
        .join(Station, Station.id == SessionParticipant.station_id)
        .join(TherapySession, TherapySession.id == SessionParticipant.session_id)
        .outerjoin(SessionSummary, (SessionSummary.session_id == SessionParticipant.session_id)
                   & (SessionSummary.station_id == SessionParticipant.station_id))
        .where(SessionParticipant.client == client)).all()
    sound_sets: dict[tuple[str, int], list[tuple[float, str]]] = {}
    for session_id, station_id, first, name in db.execute(
            select(SessionSoundSet.session_id, SessionSoundSet.station_id,
                   SessionSoundSet.first_t_wall, SessionSoundSet.sound_set)
            .join(SessionParticipant,
                  (SessionParticipant.session_id == SessionSoundSet.session_id)
                  & (SessionParticipant.station_id == SessionSoundSet.station_id))
            .where(SessionParticipant.client == client)):
        sound_sets.setdefault((session_id, station_id), []).append((first, name))
    points = []
    for session_id, station_id, first, site, name, started, summary in rows:
        part = SessionPart(session_id, StationKey(site, name), station_id)
        source: Literal["station", "dashboard"] = "station"
        if summary is None:
            summary = summary_of(part_events(db, part), DEFAULT_ENGAGED_GAP_SECONDS)
            source = "dashboard"
        t_wall = started if started is not None else first
        used = tuple(sound for _, sound in sorted(sound_sets.get((session_id, station_id), [])))
        points.append(_point(part, t_wall, local(t_wall, tz), used, summary, source))
    points.sort(key=lambda point: (point.t_wall, point.session_id, point.station))
    return ClientTrends(client, tuple(points), tuple(_markers(db, client, points, tz, cache)))


def _point(part: SessionPart, t_wall: float, started: datetime, sound_sets: tuple[str, ...],
           summary: dict[str, Any], source: Literal["station", "dashboard"]) -> TrendPoint:
    duration = summary.get("duration_s")
    accepted = int(summary.get("accepted", 0))
    tags: dict[str, int] = summary.get("observation_tags", {})
    hold: dict[str, Any] = summary.get("hold_ms", {})
    longest: dict[str, Any] = summary.get("longest_engaged_stretch", {})
    return TrendPoint(
        session_id=part.session_id, station=part.station, t_wall=t_wall,
        station_id=part.station_id, started=started,
        ended_by=summary.get("ended_by", "interrupted"), duration_s=duration,
        sound_sets=sound_sets or ((summary["sound_set"],) if summary.get("sound_set") else ()),
        accepted=accepted,
        presses_per_minute=accepted / (duration / MINUTE) if duration else None,
        active_s=float(summary.get("active_s", 0.0)),
        longest_stretch_s=float(longest.get("seconds", 0.0)),
        longest_stretch_presses=int(longest.get("presses", 0)),
        tagged=sum(tags.values()), independent=tags.get("independent", 0),
        rejected=dict(summary.get("rejected", {})),
        hold_count=int(hold.get("count", 0)), hold_median_ms=hold.get("median"),
        hold_mean_ms=hold.get("mean"), hold_max_ms=hold.get("max"),
        summary_source=source,
        goals={goal["goal"]: goal for goal in summary.get("goals", [])
               if isinstance(goal, dict) and "goal" in goal},
        sensors={name: use for name, use in (summary.get("sensors") or {}).items()
                 if isinstance(use, dict)},
    )


def _markers(db: Session, client: str, points: list[TrendPoint], tz: tzinfo,
             cache: ChangeCache | None) -> list[TrendMarker]:
    markers = [TrendMarker(change.t_wall, local(change.t_wall, tz), _kind(change.kind),
                           change.value, change.session_id)
               for change in changes_between_sessions(db, client)]
    parts = part_changes(db, ((p.session_id, p.station_id) for p in points), cache)
    for found in parts.values():
        markers.extend(TrendMarker(change.t_wall, local(change.t_wall, tz), _kind(change.kind),
                                   change.value, change.session_id) for change in found)
    for before, point in pairwise(points):
        if before.sound_sets and point.sound_sets and (
                point.sound_sets[0] != before.sound_sets[-1]):
            markers.append(TrendMarker(point.t_wall, point.started, "sound_set_differs",
                                       point.sound_sets[0], point.session_id))
    markers.sort(key=lambda marker: (marker.t_wall, marker.kind, marker.value))
    return markers


def _kind(kind: str) -> MarkerKind:
    return "sound_set_changed" if kind == EventType.SOUND_SET_CHANGED else "client_changed"
