"""Reports read from the store, on SQLite and PostgreSQL: a session's report, and a client's
trends across sessions with their markers, fast for a long history."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sqlalchemy_event

from station.bench._history import History, fill, sessions
from station.contract.events import EventType
from station.dashboard.reports.changes import ChangeCache
from station.dashboard.reports.session_report import session_report
from station.dashboard.reports.stored import ReportError, session_part
from station.dashboard.reports.summary import recomputed_summary
from station.dashboard.reports.trends import client_trends
from station.dashboard.store import StationKey, Store
from station.telemetry.aggregate import session_summary
from tests.dashboard.report_events import SessionScript, write

BERLIN = ZoneInfo("Europe/Berlin")
ROOM = StationKey("demo-site", "room-1")
SMALL = History(sessions=6, events_per_session=300, seed=3)


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements run on `store` inside the block."""
    seen: list[str] = []

    def note(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    sqlalchemy_event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sqlalchemy_event.remove(store.engine, "before_cursor_execute", note)


def test_a_report_uses_the_published_summary_once_it_has_come(store: Store) -> None:
    script = SessionScript().start()
    script.at(5.0).press("big-red")
    script.at(8.0).reject("big-red", "too_short")
    write(store, script.events)
    with store.transaction() as db:
        running = session_report(db, script.session, BERLIN)
    assert (running.summary_source, running.accepted, running.ended_by) == (
        "dashboard", 1, "interrupted")
    script.at(60.0).end()
    write(store, script.events[-1:], summary=session_summary(script.events, 10.0))
    with store.transaction() as db:
        ended = session_report(db, script.session, BERLIN)
    assert (ended.summary_source, ended.accepted, ended.ended_by, ended.duration_s) == (
        "station", 1, "session_end", 60.0)
    assert ended.rejected == {"too_short": 1}


def test_a_report_names_what_it_cannot_find(store: Store) -> None:
    script = SessionScript().start()
    write(store, script.events)
    with store.transaction() as db:
        with pytest.raises(ReportError, match="session 'nope' is not in the dashboard's store"):
            session_report(db, "nope", BERLIN)
        with pytest.raises(ReportError, match=(
                "station demo-site/room-9 took no part in session '3fa9c1d2e4b5'; it was "
                "played on demo-site/room-1")):
            session_report(db, script.session, BERLIN, StationKey("demo-site", "room-9"))
    write(store, SessionScript().start().events, StationKey("demo-site", "room-2"))
    with store.transaction() as db, pytest.raises(ReportError, match=(
            "session '3fa9c1d2e4b5' was played on demo-site/room-1, demo-site/room-2: name "
            "the station")):
        session_report(db, script.session, BERLIN)


def _expected_markers(history: History) -> list[tuple[float, str, str]]:
    markers = []
    previous: list[str] = []
    for events, _ in sessions(history):
        used = list(dict.fromkeys(e.sound_set for e in events))
        if previous and used[0] != previous[-1]:
            markers.append((events[0].t_wall, "sound_set_differs", used[0]))
        previous = used
        for e in events:
            if e.type in (EventType.SOUND_SET_CHANGED, EventType.CLIENT_CHANGED):
                assert e.detail is not None
                markers.append((e.t_wall, e.type.value, next(iter(e.detail.values()))))
    return sorted(markers, key=lambda marker: (marker[0], marker[1], marker[2]))


def test_client_trends_have_a_point_per_session_from_its_summary(store: Store) -> None:
    history = replace(SMALL, sessions=11)
    fill(store, history)
    with store.transaction() as db:
        trends = client_trends(db, "C-7F3K", BERLIN)
    made = list(sessions(history))
    assert [p.session_id for p in trends.points] == [events[0].session for events, _ in made]
    for point, (events, summary) in zip(trends.points, made, strict=True):
        assert point.summary_source == "station" and point.station == ROOM
        assert point.t_wall == events[0].t_wall
        assert point.accepted == summary["accepted"]
        assert point.presses_per_minute == pytest.approx(
            summary["accepted"] / (summary["duration_s"] / 60))
        assert (point.active_s, point.longest_stretch_s, point.longest_stretch_presses) == (
            summary["active_s"], summary["longest_engaged_stretch"]["seconds"],
            summary["longest_engaged_stretch"]["presses"])
        tags = summary["observation_tags"]
        assert (point.tagged, point.independent) == (sum(tags.values()),
                                                     tags.get("independent", 0))
        assert point.rejected == summary["rejected"]
        assert (point.hold_median_ms, point.hold_max_ms) == (
            summary["hold_ms"]["median"], summary["hold_ms"]["max"])
        assert point.sound_sets == tuple(dict.fromkeys(e.sound_set for e in events))
    expected = _expected_markers(history)
    assert any(kind == "sound_set_differs" for _, kind, _ in expected)
    assert any(kind == "client_changed" for _, kind, _ in expected)
    assert [(m.t_wall, m.kind, m.value) for m in trends.markers] == expected
    chart = trends.chart_data()
    assert chart["x"] == [p.t_wall for p in trends.points]
    assert chart["series"]["presses_per_minute"] == [
        round(p.presses_per_minute or 0, 2) for p in trends.points]
    assert chart["series"]["independent_share"][0] == round(
        trends.points[0].independent / trends.points[0].tagged, 3)
    assert set(chart["series"]) >= {"active_min", "longest_stretch_min", "hold_median_ms",
                                    "rejected.too_short", "rejected.lockout"}
    assert len(chart["markers"]) == len(expected)


def test_a_running_session_and_changes_between_sessions_are_in_the_trends(
    store: Store
) -> None:
    ended = SessionScript(session="aaaaaaaaaaaa").start()
    ended.at(10.0).press("big-red").at(30.0).end()
    write(store, ended.events, summary=session_summary(ended.events, 10.0))
    between = SessionScript(session="", first_seq=ended.seq).at(100.0).switch_client("C-7F3K")
    write(store, between.events)
    running = SessionScript(session="bbbbbbbbbbbb", first_seq=between.seq).at(200.0).start()
    running.at(210.0).press("big-blue").at(215.0).press("big-blue")
    write(store, running.events)
    with store.transaction() as db:
        trends = client_trends(db, "C-7F3K", BERLIN)
    assert [(p.session_id, p.summary_source, p.accepted, p.ended_by)
            for p in trends.points] == [("aaaaaaaaaaaa", "station", 1, "session_end"),
                                        ("bbbbbbbbbbbb", "dashboard", 2, "interrupted")]
    assert [(m.kind, m.value, m.session_id, m.label) for m in trends.markers] == [
        ("client_changed", "C-7F3K", None, "client settings applied (C-7F3K)")]
    with store.transaction() as db:
        assert client_trends(db, "C-2M9Q", BERLIN).points == ()


def test_finished_sessions_are_not_read_again_with_a_cache(store: Store) -> None:
    history = replace(SMALL, sessions=4)
    fill(store, history)
    made = [events for events, _ in sessions(history)]
    # A fifth session that lacks an event in its middle (a seq gap), so it is not complete.
    late = SessionScript(session="cccccccccccc", first_seq=made[-1][-1].seq + 1).at(9e5)
    late.start().at(9e5 + 1).sound("drum-circle").at(9e5 + 2).press("big-red").at(9e5 + 9).end()
    missing = late.events[1]
    write(store, [e for e in late.events if e is not missing],
          summary=session_summary(late.events, 10.0))
    cache = ChangeCache()

    def reads_of_sessions(seen: list[str]) -> list[str]:
        return [s for s in seen if "FROM events WHERE events.session_id IN" in s]

    with store.transaction() as db, statements(store) as seen:
        first = client_trends(db, "C-7F3K", BERLIN, cache)
    assert len(reads_of_sessions(seen)) == 1 and len(cache) == 4
    with store.transaction() as db, statements(store) as seen:
        again = client_trends(db, "C-7F3K", BERLIN, cache)
    assert again == first
    assert len(reads_of_sessions(seen)) == 1, "only the incomplete session is read again"
    assert "drum-circle" not in [m.value for m in again.markers]

    write(store, [missing])  # the gap is filled: the sound-set change arrives late
    with store.transaction() as db:
        filled = client_trends(db, "C-7F3K", BERLIN, cache)
    assert ("sound_set_changed", "drum-circle") in [(m.kind, m.value) for m in filled.markers]
    assert len(cache) == 5
    with store.transaction() as db, statements(store) as seen:
        client_trends(db, "C-7F3K", BERLIN, cache)
    assert reads_of_sessions(seen) == []
    assert len(seen) <= 5, seen


def test_the_client_page_trends_stay_fast_for_a_long_history(store: Store) -> None:
    """A test-sized run of issue 10's benchmark (`station bench dashboard --only client_page` runs
    the full 200 sessions and 500,000 events): the time does not grow with the events."""
    history = History(sessions=40, events_per_session=250, seed=11)
    fill(store, history)
    cache = ChangeCache()
    times = []
    for _ in range(20):
        began = time.perf_counter()
        with store.transaction() as db:
            trends = client_trends(db, "C-7F3K", BERLIN, cache)
            trends.chart_data()
        times.append(time.perf_counter() - began)
    assert len(trends.points) == 40
    p95 = sorted(times)[18]
    assert p95 < 0.2, f"p95 {p95 * 1000:.0f} ms"


def test_the_client_page_benchmark_reports_its_percentiles(database_url: str) -> None:
    """`station bench dashboard`'s client page on each backend (a tiny run: not a measurement)."""
    result = subprocess.run(
        [sys.executable, "-m", "station", "bench", "dashboard", "--only", "client_page",
         "--client-database", database_url, "--client-sessions", "3", "--client-events", "600",
         "--client-runs", "3"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)["client_page"]
    assert (page["sessions"], page["runs"]) == (3, 3)
    assert 600 <= page["events"] <= 603  # a press and its release may pass the count by one
    assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"]
    assert page["goal_p95_ms"] == 200.0 and page["backend"] in ("sqlite", "postgresql")


def test_an_interrupted_session_is_recomputed_as_the_station_summarises_it(
    store: Store
) -> None:
    script = SessionScript().start()
    script.at(1.25).press("big-red", 333.3).at(2.5).reject("big-blue", "bounce")
    script.at(3.0).observe("independent", "Übte „Tempo“ – λ, ждал")
    script.at(4.75).press("big-blue", 1200.0)  # then the power went: no session_end
    write(store, script.events)
    with store.transaction() as db:
        recomputed = recomputed_summary(db, session_part(db, script.session))
    assert recomputed == session_summary(script.events, 10.0)
    assert recomputed["ended_by"] == "interrupted" and recomputed["duration_s"] == 5.95
