"""CSV exports: a session's events, and a client's sessions, with the columns the report and
the client page show.

Times are given twice: as ISO 8601 local time with its UTC offset, and as seconds from the
session's start (on the station's monotonic clock, as durations are). Rejection reasons are
given in words and as the station's codes. Written with the csv module (RFC 4180 quoting).

Safe to open in a spreadsheet: a text cell that begins with ``=``, ``+``, ``-``, ``@`` (or a
tab or carriage return) would be read as a formula, so it gets a leading ``'``. Notes are free
text typed by people, and the same holds for anything a station could put in an event.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Any, TextIO

from sqlalchemy.orm import Session

from station.contract.events import EventType
from station.dashboard.reports.changes import ChangeCache
from station.dashboard.reports.session_report import local
from station.dashboard.reports.stored import part_events, session_part
from station.dashboard.reports.trends import ClientTrends, client_trends
from station.dashboard.reports.words import (
    REASON_ORDER,
    by_count,
    event_words,
    reason_words,
)
from station.dashboard.store import StationKey
from station.telemetry.eventlog import Event

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SESSION_EVENT_COLUMNS = (
    "local_time", "seconds_from_start", "event", "type", "client", "sound_set", "input",
    "hold_ms", "reason", "reason_code", "tag", "note", "value", "station", "session", "seq",
    "id",
)

CLIENT_SESSION_COLUMNS = (
    "session", "station", "started_local", "duration_s", "ended_by", "sound_sets",
    "accepted", "presses_per_minute", "active_s", "longest_stretch_s",
    "longest_stretch_presses", "tagged", "independent", "independent_share",
    "not_counted", "not_counted_reasons",
    *(f"not_counted_{code}" for code in REASON_ORDER),
    "hold_count", "hold_median_ms", "hold_mean_ms", "hold_max_ms", "figures_from",
)
"""``not_counted_reasons`` says it in words (``4 too short, 2 too soon after the last
press``); one ``not_counted_<code>`` column per reason code gives the numbers. After these
come the columns of the client's goals and variable sensors (`GOAL_FIELDS`,
`SENSOR_FIELDS`), as many as the sessions name."""

GOAL_FIELDS = ("opportunities", "successes", "percent", "latency_median_ms")
"""Per goal, ``goal_<name>_<field>``: its opportunities in the session, the successes, their
percentage (empty without an opportunity) and the median latency of the answers, ms."""
SENSOR_FIELDS = ("movements", "lowest_peak_percent", "highest_peak_percent")
"""Per variable sensor, ``sensor_<name>_<field>``: its movements in the session, and how far
the least and the farthest of them reached, in % of the client's range."""


def _names(found: Iterable[dict[str, Any]]) -> list[str]:
    """The keys of all `found` mappings, in the order they first appear."""
    return list(dict.fromkeys(name for mapping in found for name in mapping))


def _columns(prefix: str, names: list[str], fields: tuple[str, ...]) -> list[str]:
    return [f"{prefix}_{name}_{field}" for name in names for field in fields]


def _goal_cells(scored: dict[str, Any] | None) -> list[Any]:
    if scored is None:  # not a goal of the client in that session
        return [None] * len(GOAL_FIELDS)
    latency = scored.get("latency_ms") or {}
    return [scored.get("opportunities"), scored.get("successes"), scored.get("percent"),
            latency.get("median")]


def _sensor_cells(use: dict[str, Any] | None) -> list[Any]:
    if use is None:  # the sensor was not used in that session
        return [None] * len(SENSOR_FIELDS)
    peaks = use.get("peaks")
    reached = [round(float(peak) * 100) for peak in peaks] if peaks else [None, None]
    return [use.get("movements", 0), *reached]


def cell(value: Any) -> Any:
    """A value as written to a CSV cell: None empty, text kept from being read as a
    formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _writer(out: TextIO, columns: Sequence[str]) -> Any:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    return writer


def _iso(t_wall: float, tz: tzinfo) -> str:
    return local(t_wall, tz).isoformat(timespec="milliseconds")


def _value(event: Event) -> Any:
    """What a change event changed to (client, sound set, volume, engine, audio)."""
    detail = event.detail or {}
    for key in ("client", "sound_set", "volume", "engine", "audio"):
        if key in detail:
            return detail[key]
    return None


def write_session_events(
    out: TextIO, events: Iterable[Event], station: StationKey, tz: tzinfo
) -> int:
    """Write one station's events of a session (in seq order) as CSV; the number of rows."""
    events = list(events)
    start = next((e for e in events if e.type == EventType.SESSION_START), None)
    origin = start or (events[0] if events else None)
    writer = _writer(out, SESSION_EVENT_COLUMNS)
    for event in events:
        detail = event.detail or {}
        rejected = event.type == EventType.REJECTED
        reason = (event.reason or "unknown") if rejected else None
        writer.writerow([cell(value) for value in (
            _iso(event.t_wall, tz),
            round(event.t_mono - origin.t_mono, 3) if origin else None,
            event_words(event.type), event.type, event.client, event.sound_set, event.input,
            event.hold_ms, reason_words(reason) if reason else None, reason,
            detail.get("tag") if event.type == EventType.OBSERVATION else None,
            detail.get("note") if event.type == EventType.OBSERVATION else None,
            _value(event) if event.type != EventType.OBSERVATION else None,
            str(station), event.session, event.seq, event.id,
        )])
    return len(events)


def session_events_csv(
    db: Session, out: TextIO, session_id: str, tz: tzinfo, station: StationKey | None = None
) -> int:
    """Write the stored events of `session_id` (on `station`, or its only station) as CSV to
    `out`; the number of rows. ReportError if the store does not hold the session."""
    part = session_part(db, session_id, station)
    return write_session_events(out, part_events(db, part), part.station, tz)


def write_client_sessions(out: TextIO, trends: ClientTrends, tz: tzinfo) -> int:
    """Write one row per session of `trends` (the client page's figures) as CSV; the number of
    rows."""
    goals = _names(point.goals for point in trends.points)
    sensors = _names(point.sensors for point in trends.points)
    writer = _writer(out, (*CLIENT_SESSION_COLUMNS, *_columns("goal", goals, GOAL_FIELDS),
                           *_columns("sensor", sensors, SENSOR_FIELDS)))
    for point in trends.points:
        rejected = point.rejected
        words = ", ".join(f"{rejected[code]} {reason_words(code)}" for code in by_count(rejected))
        share = point.independent_share
        writer.writerow([cell(value) for value in (
            point.session_id, str(point.station), _iso(point.t_wall, tz), point.duration_s,
            point.ended_by, " ".join(point.sound_sets), point.accepted,
            None if point.presses_per_minute is None else round(point.presses_per_minute, 2),
            point.active_s, point.longest_stretch_s, point.longest_stretch_presses,
            point.tagged, point.independent, None if share is None else round(share, 3),
            point.rejected_total, words,
            *(rejected.get(code, 0) for code in REASON_ORDER),
            point.hold_count, point.hold_median_ms, point.hold_mean_ms, point.hold_max_ms,
            point.summary_source,
            *(value for name in goals for value in _goal_cells(point.goals.get(name))),
            *(value for name in sensors for value in _sensor_cells(point.sensors.get(name))),
        )])
    return len(trends.points)


def client_sessions_csv(
    db: Session, out: TextIO, client: str, tz: tzinfo, cache: ChangeCache | None = None
) -> int:
    """Write every session of `client` as CSV to `out`, as the client page shows them; the
    number of rows."""
    return write_client_sessions(out, client_trends(db, client, tz, cache), tz)
