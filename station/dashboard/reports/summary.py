"""A session's summary recomputed from the stored events, by the station's own definition.

There is one definition of a summary: `station.telemetry.aggregate.session_summary`, the pure
function the station's agent publishes ``session/summary`` from. The dashboard runs the same
function over the events it stored, so what it recomputes (for a running session, or one
whose summary has not arrived) equals what the station publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from station.config.client import GoalSection
from station.config.station_file import TelemetrySection
from station.contract.events import EventType
from station.dashboard.reports.stored import SessionPart, part_events, published_summary
from station.telemetry import eventlog
from station.telemetry.aggregate import session_summary
from station.telemetry.goals import goals_from_summary

DEFAULT_ENGAGED_GAP_SECONDS: float = TelemetrySection.model_fields["engaged_gap_seconds"].default
"""The station's default `telemetry.engaged_gap_seconds` (seconds)."""


def engaged_gap_seconds(published: dict[str, Any] | None) -> float:
    """The engaged-stretch gap the station used (its summary says), else its default."""
    if published is not None and isinstance(published.get("engaged_gap_s"), int | float):
        return float(published["engaged_gap_s"])
    return DEFAULT_ENGAGED_GAP_SECONDS


def summary_of(events: list[eventlog.Event], gap_seconds: float,
               goals: Sequence[GoalSection] = ()) -> dict[str, Any]:
    """`session_summary` over a part's events in seq order, up to its end as the station
    sums them (its agent reads the session's events up to the ``session_end``); `goals`
    scored (the dashboard knows a client's goals only from a summary the station sent)."""
    for index, event in enumerate(events):
        if event.type == EventType.SESSION_END:
            events = events[:index + 1]
            break
    return session_summary(events, gap_seconds, lambda client: goals)


def recomputed_summary(
    db: Session, part: SessionPart, gap_seconds: float | None = None
) -> dict[str, Any]:
    """The summary of `part` from its stored events: the same keys and values as the
    station's ``session/summary``.

    `gap_seconds` is the engaged-stretch gap (seconds); None takes the one the station's
    published summary names, or the station's default (10) when none has arrived.
    """
    published = published_summary(db, part)
    if gap_seconds is None:
        gap_seconds = engaged_gap_seconds(published)
    goals = goals_from_summary(published) if published is not None else []
    return summary_of(part_events(db, part), gap_seconds, goals)
