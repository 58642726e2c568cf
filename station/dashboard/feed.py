"""The session console's live feed: a station's recent events in the therapist's words.

`feed_lines` is pure (stored events in, lines out, newest first) so that its words are tested
without a browser; the words of reasons, tags and event types are those of the reports
(`station.dashboard.reports.words`), one source. `recent_events` reads the newest events of
one station from the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from station.contract.events import EventType
from station.dashboard.reports.words import (
    TAG_WORDS,
    duration_words,
    event_words,
    half_up,
    reason_words,
)
from station.dashboard.store import Store
from station.dashboard.store.models import Event, Station
from station.dashboard.store.records import StationKey
from station.dashboard.store.store import event_message

RECENT_EVENTS = 80  # read per refresh: releases and hidden observations take slots too
FEED_LINES = 30


@dataclass(frozen=True)
class FeedLine:
    """One line of the feed."""

    at: float
    """Unix time of the event, seconds."""
    kind: str
    """``press``, ``rejected``, ``observation``, ``session``, ``change``, ``station`` or
    ``cue``."""
    text: str

    @property
    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.at))


def recent_events(store: Store, station: StationKey,
                  limit: int = RECENT_EVENTS) -> list[dict[str, Any]]:
    """The newest `limit` stored events of `station`, oldest first, as published."""
    # Rows, not ORM objects: this runs for every update of every open console, and building
    # the objects took most of its time.
    query = (select(*Event.__table__.columns).join(Station, Station.id == Event.station_id)
             .where(Station.site == station.site, Station.name == station.name)
             .order_by(Event.seq.desc()).limit(limit))
    with store.transaction() as db:
        return [event_message(row, station) for row in reversed(db.execute(query).all())]


def _percent(volume: Any) -> str:
    return f"{half_up(float(volume) * 100)} %"


def _line(event: dict[str, Any], holds: dict[tuple[str, float], float],
          show_notes: bool) -> FeedLine | None:
    kind, detail = event["type"], event.get("detail") or {}
    at = float(event["t_wall"])
    if kind == EventType.PRESS:
        hold = holds.get((event.get("input") or "", float(event["t_mono"])))
        held = f", held {duration_words(hold / 1000)}" if hold is not None else ""
        return FeedLine(at, "press", f"Press on {event.get('input')}{held}")
    if kind == EventType.REJECTED:
        return FeedLine(at, "rejected", f"Not counted on {event.get('input')}: "
                                        f"{reason_words(str(event.get('reason')))}")
    if kind == EventType.OBSERVATION:
        if not show_notes:
            return None
        tag = TAG_WORDS.get(str(detail.get("tag")), "") if detail.get("tag") else ""
        note = f"“{detail['note']}”" if detail.get("note") else ""
        return FeedLine(at, "observation",
                        "Observation: " + " · ".join(part for part in (tag, note) if part))
    if kind == EventType.SESSION_START:
        return FeedLine(at, "session", f"Session started with {event.get('client') or 'no client'}"
                                       f" and {event.get('sound_set')}")
    if kind == EventType.SESSION_END:
        return FeedLine(at, "session", "Session ended")
    if kind == EventType.CLIENT_CHANGED:
        return FeedLine(at, "change", f"Client {detail.get('client')} (their settings applied)")
    if kind == EventType.SOUND_SET_CHANGED:
        return FeedLine(at, "change", f"Sound set {detail.get('sound_set')}")
    if kind == EventType.VOLUME_CHANGED:
        return FeedLine(at, "change", f"Volume {_percent(detail.get('volume', 0))} of the "
                                      "client's ceiling")
    if kind == EventType.STATION_STATUS:
        started = detail.get("engine") == "started"
        return FeedLine(at, "station", "Station started" if started else "Station stopped")
    if kind == EventType.CUE:
        again = f" (again, {detail.get('attempt')})" if detail.get("attempt", 1) > 1 else ""
        targets = " or ".join(str(name) for name in detail.get("targets", []))
        window = detail.get("window_ms", 0) / 1000
        by = f" ({detail['activity']})" if detail.get("activity") else ""
        return FeedLine(at, "cue", f"Cue{again}{by}: answer on {targets} within {window:g} s")
    if kind == EventType.RESPONSE:
        latency = detail.get("latency_ms", 0) / 1000
        return FeedLine(at, "cue", f"Response on {event.get('input')} after {latency:.1f} s")
    if kind == EventType.NO_RESPONSE:
        then = "waiting for you" if detail.get("final") else "cueing again"
        return FeedLine(at, "cue", f"No response to the cue ({then})")
    if kind == EventType.ANTICIPATION:
        return FeedLine(at, "cue", f"Press on {event.get('input')} while the cue sounded "
                                   "(too early to answer it)")
    if kind == EventType.OFF_TARGET:
        return FeedLine(at, "cue", f"Press on {event.get('input')}, not a switch the cue asked "
                                   "for")
    if kind == EventType.ZONE:
        return FeedLine(at, "press", f"Zone {detail.get('zone')} of {detail.get('zones')} on "
                                     f"{event.get('input')}")
    if kind == EventType.MOVEMENT:
        return FeedLine(at, "press", f"Movement on {event.get('input')}, reaching "
                                     f"{round(detail.get('peak', 0.0) * 100)} % of the "
                                     "client's range")
    if kind == EventType.SENSOR_LOST:
        return FeedLine(at, "station", f"Sensor {event.get('input')} gives no readings "
                                       "(check that nothing blocks it and its wiring)")
    if kind == EventType.SENSOR_BACK:
        return FeedLine(at, "station", f"Sensor {event.get('input')} reads again")
    if kind == EventType.SENSOR_CALIBRATED:
        if event.get("reason"):
            return FeedLine(at, "change", f"Calibration of {event.get('input')} not saved: "
                                          f"{str(event.get('reason')).replace('_', ' ')}")
        return FeedLine(at, "change", f"Calibrated {event.get('input')}: the client's range is "
                                      f"{round(detail.get('floor', 0) * 100)} % to "
                                      f"{round(detail.get('ceiling', 0) * 100)} % of the "
                                      "sensor")
    if kind == EventType.RELEASE:
        return None  # its hold time is shown on the press it ends
    return FeedLine(at, "other", event_words(kind).capitalize())


def feed_lines(events: Sequence[dict[str, Any]], show_notes: bool,
               clients: frozenset[str] | None = None,
               limit: int = FEED_LINES) -> list[FeedLine]:
    """The feed of `events` (oldest first, as `recent_events` gives them), newest first.

    `show_notes` False (staff) leaves observations out altogether; `clients` (a therapist's)
    leaves out the events of every other client: the station may have played for someone
    else's client a moment ago.
    """
    if clients is not None:
        events = [event for event in events if event.get("client") in clients]
    holds = {(str(event.get("input")), float(event["press_t_mono"])): float(event["hold_ms"])
             for event in events if event["type"] == EventType.RELEASE
             and event.get("press_t_mono") is not None and event.get("hold_ms") is not None}
    lines = [line for event in reversed(events)
             if (line := _line(event, holds, show_notes)) is not None]
    return lines[:limit]
