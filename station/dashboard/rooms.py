"""The rooms page's view of each station: what it is doing and what is wrong, in words.

Pure: built from what the store keeps per station (`StationView`) and the clock, so that
the words are tested without a browser. Times are shown in the dashboard's local time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from station.dashboard.store import StationView


@dataclass(frozen=True)
class Room:
    """One station as the rooms page shows it."""

    site: str
    name: str
    online: bool
    status: str
    """``online``, ``offline since 14:02``, or ``not heard from yet``."""
    status_since: float | None
    shown: bool
    """False for a therapist when the client at the station is not assigned to them: only
    whether it is online is shown."""
    client: str = ""
    sound_set: str = ""
    session_started: float | None = None
    """When the running session started; None when none runs (or its start is not stored)."""
    session_running: bool = False
    counts: tuple[tuple[str, int], ...] = ()
    """Accepted presses per input in the running session."""
    presses_per_minute: float | None = None
    problems: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """An id for the page, ``room-demo-site--room-1`` (a name never starts with ``-``, so
        ``--`` tells site and station apart)."""
        return f"room-{self.site}--{self.name}"

    @property
    def presses(self) -> int:
        return sum(count for _, count in self.counts)


def clock_time(at: float, now: float) -> str:
    """``14:02`` today, ``3 Dec 14:02`` on another day (local time)."""
    moment, today = time.localtime(at), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    return f"{moment.tm_mday} {time.strftime('%b %H:%M', moment)}"


def duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``1 h 5 min``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def audio_problem_words(problem: str | None) -> str:
    """The engine's reason for a lost audio device (`AudioServer.problem`) in staff's words."""
    problem = problem or ""
    stopped = re.fullmatch(r"stopped: the (\S+) server shut down", problem)
    if stopped:
        return f"the sound server ({stopped.group(1)}) shut down"
    stalled = re.fullmatch(r"stalled: no audio block for ([0-9.]+) s", problem)
    if stalled:
        return f"the sound card stopped playing (silent for {stalled.group(1)} s)"
    return problem.partition(": ")[2] or problem or "the station did not say why"


def problems_of(view: StationView, now: float | None = None) -> tuple[str, ...]:
    """What is wrong at the station, said so that staff know what to do."""
    found = []
    health = view.health or {}
    if health.get("audio") == "lost":
        since = health.get("audio_since")
        when = f" since {clock_time(since, time.time() if now is None else now)}" if isinstance(
            since, (int, float)) else ""
        found.append(f"Audio lost{when}: {audio_problem_words(health.get('audio_problem'))}. "
                     "Presses are still counted and the station tries again by itself; check "
                     "the speakers' power and cable.")
    backlog = health.get("backlog", 0)
    if backlog:
        found.append(f"{backlog} event{'s' if backlog != 1 else ''} waiting to be sent: the "
                     "station keeps them and sends them when it can.")
    if health.get("disk_low"):
        found.append(f"Disk nearly full ({health.get('disk_free_mb', 0):.0f} MB free): ask IT "
                     "to free space, or recording and the event log will stop.")
    if health.get("delivery_error"):
        found.append(f"The broker refuses this station's messages ({health['delivery_error']})"
                     ": ask IT to check the station's MQTT login.")
    return tuple(found)


def room(view: StationView, now: float, starts: Mapping[str, float],
         assigned: frozenset[str] | None) -> Room:
    """The room of `view`; `assigned` limits what is shown to those clients (None: all)."""
    state = view.state or {}
    online = view.status == "online"
    if view.status is None:
        status = "not heard from yet"
    elif online:
        status = "online"
    else:
        status = f"offline since {clock_time(view.status_since or now, now)}"
    client = state.get("client", "")
    shown = assigned is None or client in assigned
    base = Room(view.station.site, view.station.name, online, status, view.status_since, shown)
    if not shown:
        return base
    session = state.get("session", "")
    counts = view.counts or {}
    aggregates = view.aggregates or {}
    current = bool(session) and aggregates.get("session") == session
    # The aggregates name every input (none pressed yet too); the counts follow each press.
    per_input = {name: 0 for name in aggregates.get("inputs", {})} if current else {}
    if session and counts.get("session") == session:
        per_input.update(counts.get("counts", {}))
    rate = aggregates.get("presses_per_minute") if current else None
    return Room(
        view.station.site, view.station.name, online, status, view.status_since, True,
        client=client, sound_set=state.get("sound_set", ""),
        session_started=starts.get(session) if session else None,
        session_running=bool(session),
        counts=tuple(sorted((name, int(count)) for name, count in per_input.items())),
        presses_per_minute=rate, problems=problems_of(view, now),
    )
