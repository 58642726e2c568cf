"""The summary the dashboard recomputes from stored events equals the one the station
published, for a real `station run --simulate` session through a real mosquitto, on SQLite
and PostgreSQL; and the session report built from it."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from station.config import load_station
from station.dashboard.reports.csv_export import session_events_csv
from station.dashboard.reports.paragraph import objective_data
from station.dashboard.reports.pdf import find_fonts, session_pdf
from station.dashboard.reports.session_report import session_report
from station.dashboard.reports.stored import published_summary, session_part
from station.dashboard.reports.summary import recomputed_summary
from station.dashboard.store import StationKey, Store
from station.engine.control_socket import send_command
from tests.dashboard.report_events import pages_text
from tests.telemetry.conftest import StationProcess, wait_for_engine

ROOM = StationKey("demo-site", "room-1")
BERLIN = ZoneInfo("Europe/Berlin")


def _pause(seconds: float) -> None:
    threading.Event().wait(seconds)


def _play(station: StationProcess, data_dir: Any) -> None:
    """Presses as a client with tremor makes them (C-2M9Q: a press counts once held 80 ms,
    presses within 250 ms of an accepted one do not count), tags, a sound-set change."""

    def press(name: str, hold: float) -> None:
        station.write(f"press {name}\n")
        _pause(hold)
        station.write(f"release {name}\n")
        _pause(0.05)

    for name in ("big-red", "big-blue", "big-red"):
        press(name, 0.2)
        _pause(0.35)
    press("big-red", 0.01)  # too short
    _pause(0.35)
    press("big-blue", 0.12)
    press("big-blue", 0.2)  # too soon after the last accepted press of big-blue
    assert send_command(data_dir, {"command": "tag_observation", "tag": "independent",
                                   "note": "reached across for the blue one"})["ok"]
    assert send_command(data_dir, {"command": "select_sound_set",
                                   "sound_set": "warm-strings"})["ok"]
    _pause(0.35)
    press("big-yellow", 0.3)
    _pause(0.35)
    assert send_command(data_dir, {"command": "tag_observation", "tag": "prompted"})["ok"]
    assert send_command(data_dir, {"command": "tag_observation", "note": "=1+2 smiled"})["ok"]
    _pause(1.2)
    press("big-red", 0.2)  # more than a second later: still the same engaged stretch


def test_the_recomputed_summary_equals_the_published_one_and_the_report_shows_it(
    store: Store, ingest_factory: Any, station_config: Any, mosquitto: Any, tmp_path: Path
) -> None:
    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "null", "station.client": "C-2M9Q",
                           "telemetry.engaged_gap_seconds": 5.0})
    data_dir = load_station(path).data_dir
    ingest = ingest_factory(store)
    station = StationProcess(["run", "--simulate", "--config", str(path)])
    station.start()
    try:
        wait_for_engine(data_dir, station, 30)
        assert ingest.wait_for(
            lambda: any(e["type"] == "session_start" for e in store.events()), 30)
        _play(station, data_dir)
        assert send_command(data_dir, {"command": "end_session"})["ok"]
        [session] = {e["session"] for e in store.events() if e["type"] == "session_start"}

        def summary_stored() -> bool:
            with store.transaction() as db:
                return published_summary(db, session_part(db, session)) is not None

        assert ingest.wait_for(summary_stored, 20), station.log
    finally:
        assert station.stop() == 0, station.log

    with store.transaction() as db:
        part = session_part(db, session)
        published = published_summary(db, part)
        recomputed = recomputed_summary(db, part)
        also = recomputed_summary(db, part, gap_seconds=5.0)
        report = session_report(db, session, BERLIN)
        exported = io.StringIO(newline="")
        session_events_csv(db, exported, session, BERLIN)
    assert published is not None
    assert recomputed == published
    assert also == published
    # A test that cannot fail is worse than none: the session had what a summary counts.
    assert published["accepted"] == 6 and published["engaged_gap_s"] == 5.0
    assert published["rejected"] == {"too_short": 1, "lockout": 1}
    assert published["observation_tags"] == {"independent": 1, "prompted": 1}
    assert published["hold_ms"]["count"] == 6

    assert part.station == ROOM
    assert report.summary_source == "station" and report.clients == ("C-2M9Q",)
    assert [period.sound_set for period in report.sound_sets] == ["calm-bells", "warm-strings"]
    assert [press.input for press in report.presses] == [
        "big-red", "big-blue", "big-red", "big-blue", "big-yellow", "big-red"]
    assert all(press.hold_ms is not None for press in report.presses)
    assert [(r.input, r.words) for r in report.rejections] == [
        ("big-red", "too short"), ("big-blue", "too soon after the last press")]
    assert [(o.tag, o.note) for o in report.observations] == [
        ("independent", "reached across for the blue one"), ("prompted", None),
        (None, "=1+2 smiled")]
    seconds = [press.at.seconds for press in report.presses]
    assert seconds == sorted(seconds) and 0 < seconds[0] < seconds[-1] <= report.duration_s
    assert report.started is not None and report.started.tzinfo is BERLIN
    text = objective_data(report)
    assert text.startswith("C-2M9Q took part in a ")
    assert ("with the calm-bells and warm-strings sound sets. 6 presses were accepted ("
            in text)
    assert "on 3 inputs; the longest engaged stretch was " in text
    assert ("2 presses were not counted: 1 too short, 1 too soon after the last press. "
            "1 of 2 tagged responses was independent.") in text

    rows = list(csv.DictReader(io.StringIO(exported.getvalue(), newline="")))
    assert [row["reason"] for row in rows if row["type"] == "rejected"] == [
        "too short", "too soon after the last press"]
    assert [row["note"] for row in rows if row["note"]] == [
        "reached across for the blue one", "'=1+2 smiled"]
    assert float(rows[-1]["seconds_from_start"]) == report.duration_s

    pdf = session_pdf(report, fonts=find_fonts())
    (tmp_path / "report.pdf").write_bytes(pdf)
    printed = " ".join(pages_text(pdf))
    assert text in printed
    assert "Sound sets calm-bells from 0:00, warm-strings from " in printed
    assert "big-blue 2 1 1 too soon after the last press" in printed
    assert "reached across for the blue one" in printed and "=1+2 smiled" in printed
