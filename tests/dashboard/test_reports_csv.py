"""CSV exports, read back with the csv module: a session's events and a client's sessions,
safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from zoneinfo import ZoneInfo

from station.bench._history import History, fill
from station.contract.events import EventType
from station.dashboard.reports.csv_export import (
    CLIENT_SESSION_COLUMNS,
    SESSION_EVENT_COLUMNS,
    cell,
    client_sessions_csv,
    session_events_csv,
    write_session_events,
)
from station.dashboard.reports.trends import client_trends
from station.dashboard.store import StationKey, Store
from station.telemetry.aggregate import session_summary
from tests.dashboard.report_events import PART, SessionScript, write

BERLIN = ZoneInfo("Europe/Berlin")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _script() -> SessionScript:
    script = SessionScript().start()
    script.at(5.0).press("big-red", 320.0)
    script.at(6.25).reject("big-red", "lockout")
    script.at(7.0).add(EventType.REJECTED, "head-switch", "bounce", detail={"edges": 3})
    script.at(8.0).observe("independent", '=HYPERLINK("http://example.com","look")')
    script.at(9.0).observe(note="-2 then +1, @home")
    script.at(10.0).observe(note="said, \"more\"\nthen laughed")
    script.at(11.0).sound("drum-circle")
    script.at(12.0).add(EventType.VOLUME_CHANGED, detail={"volume": 0.5})
    return script.at(20.0).end()


def test_a_sessions_events_read_back_with_times_reasons_and_words() -> None:
    out = io.StringIO(newline="")
    script = _script()
    assert write_session_events(out, script.events, PART.station, BERLIN) == 11
    text = out.getvalue()
    assert text.splitlines()[0] == ",".join(SESSION_EVENT_COLUMNS)
    rows = _rows(text)
    assert [row["type"] for row in rows] == [
        "session_start", "press", "release", "rejected", "rejected", "observation",
        "observation", "observation", "sound_set_changed", "volume_changed", "session_end"]
    start, press, release, lockout, bounce = rows[:5]
    assert start["local_time"] == "2025-11-25T14:00:00.000+01:00"
    assert start["event"] == "session started" and start["seconds_from_start"] == "0.0"
    assert (press["local_time"], press["seconds_from_start"], press["input"]) == (
        "2025-11-25T14:00:05.000+01:00", "5.0", "big-red")
    assert (release["hold_ms"], release["seconds_from_start"]) == ("320.0", "5.32")
    assert (lockout["event"], lockout["reason"], lockout["reason_code"]) == (
        "press not counted", "too soon after the last press", "lockout")
    assert (bounce["reason"], bounce["reason_code"], bounce["input"]) == (
        "contact bounce", "bounce", "head-switch")
    assert press["reason"] == press["reason_code"] == ""
    hyperlink, signs, quoted = rows[5:8]
    assert hyperlink["tag"] == "independent"
    assert hyperlink["note"] == '\'=HYPERLINK("http://example.com","look")'
    assert signs["note"] == "'-2 then +1, @home" and signs["tag"] == ""
    assert quoted["note"] == 'said, "more"\nthen laughed'
    assert rows[8]["value"] == "drum-circle" and rows[8]["sound_set"] == "drum-circle"
    assert rows[9]["value"] == "0.5"
    assert {row["station"] for row in rows} == {"demo-site/room-1"}
    assert [int(row["seq"]) for row in rows] == [e.seq for e in script.events]
    assert [row["id"] for row in rows] == [e.id for e in script.events]


def test_no_text_cell_starts_a_formula() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert cell(text) == f"'{text}"
    assert cell("C-7F3K") == "C-7F3K" and cell(-1.5) == -1.5 and cell(None) == ""


def test_the_stored_sessions_events_export_as_written(store: Store) -> None:
    script = _script()
    write(store, script.events, summary=session_summary(script.events, 10.0))
    out, expected = io.StringIO(newline=""), io.StringIO(newline="")
    with store.transaction() as db:
        assert session_events_csv(db, out, script.session, BERLIN) == 11
    write_session_events(expected, script.events, StationKey("demo-site", "room-1"), BERLIN)
    assert out.getvalue() == expected.getvalue()


def test_a_clients_sessions_read_back_as_the_client_page_shows_them(store: Store) -> None:
    history = replace(History(), sessions=4, events_per_session=300, seed=5)
    fill(store, history)
    out = io.StringIO(newline="")
    with store.transaction() as db:
        assert client_sessions_csv(db, out, "C-7F3K", BERLIN) == 4
        trends = client_trends(db, "C-7F3K", BERLIN)
    assert out.getvalue().splitlines()[0] == ",".join(CLIENT_SESSION_COLUMNS)
    rows = _rows(out.getvalue())
    for row, point in zip(rows, trends.points, strict=True):
        assert row["session"] == point.session_id and row["station"] == "demo-site/room-1"
        assert row["started_local"] == point.started.isoformat(timespec="milliseconds")
        assert row["started_local"].endswith("+01:00")
        assert int(row["accepted"]) == point.accepted
        assert float(row["presses_per_minute"]) == round(point.presses_per_minute or 0, 2)
        assert float(row["active_s"]) == point.active_s
        assert int(row["not_counted"]) == point.rejected_total
        for code in ("too_short", "lockout", "stuck", "bounce"):
            assert int(row[f"not_counted_{code}"]) == point.rejected.get(code, 0)
        assert row["figures_from"] == "station" and row["ended_by"] == "session_end"
    words = rows[0]["not_counted_reasons"]
    assert "too short" in words and "too soon after the last press" in words
    assert "contact bounce" in words


def test_a_clients_sessions_carry_a_column_group_per_goal_and_per_sensor(store: Store) -> None:
    from station.config.client import GoalSection

    goal = GoalSection(name="answers-the-call", behaviour="responds", inputs=["big-red"],
                       within_seconds=5.0, prompt_at_most="independent")
    first = SessionScript(session="goal-session-1", first_seq=1).start()
    first.at(10.0).cue("cue-0", "big-red", 2500.0)
    first.at(30.0).cue("cue-1", "big-red", None)
    for step, peak in enumerate((0.35, 0.5)):
        first.at(60.0 + step).add(EventType.MOVEMENT, "squeeze", hold_ms=800.0,
                                  detail={"peak": peak})
    first.at(90.0).end()
    second = SessionScript(session="goal-session-2", first_seq=first.seq).start()
    second.seconds = 86400.0
    second.at(86500.0).end()  # no cue and no sensor that day
    for script in (first, second):
        write(store, script.events,
              summary=session_summary(script.events, 10.0, lambda client: [goal]))
    out = io.StringIO(newline="")
    with store.transaction() as db:
        assert client_sessions_csv(db, out, "C-7F3K", BERLIN) == 2
    header = out.getvalue().splitlines()[0].split(",")
    assert header[len(CLIENT_SESSION_COLUMNS):] == [
        "goal_answers-the-call_opportunities", "goal_answers-the-call_successes",
        "goal_answers-the-call_percent", "goal_answers-the-call_latency_median_ms",
        "sensor_squeeze_movements", "sensor_squeeze_lowest_peak_percent",
        "sensor_squeeze_highest_peak_percent"]
    with_cues, without = _rows(out.getvalue())
    assert [with_cues[f"goal_answers-the-call_{field}"] for field in (
        "opportunities", "successes", "percent", "latency_median_ms")] == [
        "2", "1", "50.0", "2500.0"]
    assert [with_cues[f"sensor_squeeze_{field}"] for field in (
        "movements", "lowest_peak_percent", "highest_peak_percent")] == ["2", "35", "50"]
    # A goal without an opportunity has no percentage; a sensor not used, no cells at all.
    assert without["goal_answers-the-call_opportunities"] == "0"
    assert without["goal_answers-the-call_percent"] == ""
    assert without["sensor_squeeze_movements"] == ""
