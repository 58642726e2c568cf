"""The session report's data and its "objective data" paragraph, from a session's events as a
station records them: exact expected text."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from station.contract.events import EventType
from station.contract.schemas import schema
from station.dashboard.reports.paragraph import objective_data
from station.dashboard.reports.session_report import SessionReport, build_report
from station.dashboard.reports.summary import summary_of
from station.dashboard.reports.words import (
    EVENT_WORDS,
    REASON_WORDS,
    TAG_WORDS,
    clock,
    date_words,
    duration_words,
    event_words,
    indefinite_article,
    reason_words,
    session_length_words,
)
from station.inputs.access import REASONS
from tests.dashboard.report_events import PART, SessionScript, example_session

BERLIN = ZoneInfo("Europe/Berlin")


def report_of(script: SessionScript, gap_seconds: float = 10.0) -> SessionReport:
    return build_report(PART, script.events, summary_of(script.events, gap_seconds),
                        "dashboard", BERLIN)


def test_the_example_session_reads_as_the_example_paragraph() -> None:
    assert objective_data(report_of(example_session())) == (
        "C-7F3K took part in a 12-minute session with the calm-bells sound set. 84 presses "
        "were accepted (7.0 per minute) on 3 inputs; the longest engaged stretch was 4 min "
        "10 s. 6 presses were not counted: 4 too short, 2 too soon after the last press. "
        "3 of 5 tagged responses were independent.")


def test_an_interrupted_session_with_two_clients_and_two_sound_sets() -> None:
    script = SessionScript().start()
    script.at(5.0).press("big-red", 400.0)
    script.at(20.0).sound("drum-circle")
    script.at(30.0).switch_client("C-2M9Q")
    script.at(45.0).observe(note="looked at the light")  # the last event: no session_end
    assert objective_data(report_of(script)) == (
        "C-7F3K and C-2M9Q took part in a 45-second session with the calm-bells and "
        "drum-circle sound sets. 1 press was accepted (1.3 per minute) on 1 input; the "
        "longest engaged stretch was 0.4 s. Every press was counted. No responses were "
        "tagged. The session was not ended at the station (it was interrupted); these "
        "figures cover it up to its last recorded event.")


@pytest.mark.parametrize(("minutes", "tags", "expected"), [
    (18, ["prompted"], "The 1 tagged response was not independent."),
    (11, ["prompted", "hand-over-hand"], "None of the 2 tagged responses were independent."),
    (8, ["independent"], "1 of 1 tagged response was independent."),
    (60, ["independent", "prompted"], "1 of 2 tagged responses was independent."),
])
def test_tagged_responses_and_the_length_of_the_session(
    minutes: int, tags: list[str], expected: str
) -> None:
    script = SessionScript().start()
    for tag in tags:
        script.at(30.0).observe(tag)
    script.at(40.0).reject("big-blue", "stuck")
    script.at(minutes * 60.0).end()
    length = {18: "an 18-minute", 11: "an 11-minute", 8: "an 8-minute", 60: "a 1-hour"}
    assert objective_data(report_of(script)) == (
        f"C-7F3K took part in {length[minutes]} session with the calm-bells sound set. No "
        "presses were accepted. 1 press was not counted (switch held too long (stuck)). "
        + expected)


def test_a_session_with_nothing_played_says_so_without_a_word_on_counting() -> None:
    script = SessionScript().start().at(125.0).end()
    assert objective_data(report_of(script)) == (
        "C-7F3K took part in a 2-minute session with the calm-bells sound set. No presses "
        "were accepted. No responses were tagged.")


def test_the_report_has_the_timeline_sound_sets_and_counts_per_input() -> None:
    script = SessionScript().start()
    script.at(2.0).press("big-red", 250.0)
    script.at(3.0).reject("big-red", "lockout")
    script.at(4.5).add(EventType.PRESS, "big-blue")  # never released (the session ended)
    script.at(60.0).sound("drum-circle")
    script.at(61.0).add(EventType.REJECTED, "head-switch", "bounce", detail={"edges": 3})
    script.at(62.0).observe("independent", "reached across")
    script.at(63.0).switch_client("C-7F3K")  # the same profile again: settings reloaded
    script.at(90.0).end()
    report = report_of(script)
    assert (report.session_id, report.station, report.clients) == (
        PART.session_id, PART.station, ("C-7F3K",))
    assert report.started == datetime(2025, 11, 25, 14, 0, tzinfo=BERLIN)
    assert report.ended == datetime(2025, 11, 25, 14, 1, 30, tzinfo=BERLIN)
    assert (report.ended_by, report.duration_s, report.summary_source) == (
        "session_end", 90.0, "dashboard")
    assert [(p.sound_set, p.since.seconds) for p in report.sound_sets] == [
        ("calm-bells", 0.0), ("drum-circle", 60.0)]
    assert [(t.input, t.accepted, t.rejected) for t in report.inputs] == [
        ("big-blue", 1, {}), ("big-red", 1, {"lockout": 1}), ("head-switch", 0, {"bounce": 1})]
    assert [(p.at.seconds, p.input, p.hold_ms) for p in report.presses] == [
        (2.0, "big-red", 250.0), (4.5, "big-blue", None)]
    assert [(r.at.seconds, r.input, r.reason, r.words) for r in report.rejections] == [
        (3.0, "big-red", "lockout", "too soon after the last press"),
        (61.0, "head-switch", "bounce", "contact bounce")]
    assert [(o.at.seconds, o.tag, o.note) for o in report.observations] == [
        (62.0, "independent", "reached across")]
    assert report.observations[0].at.at == datetime(2025, 11, 25, 14, 1, 2, tzinfo=BERLIN)
    assert [(c.at.seconds, c.kind, c.value) for c in report.changes] == [
        (60.0, "sound_set_changed", "drum-circle"), (63.0, "client_changed", "C-7F3K")]
    assert report.presses_per_minute == pytest.approx(2 / 1.5)
    assert (report.tagged, report.independent) == (1, 1)


def test_every_code_a_report_shows_has_words() -> None:
    assert set(REASON_WORDS) == set(REASONS)
    assert set(EVENT_WORDS) == set(EventType)
    tags = schema("summary")["properties"]["observation_tags"]["propertyNames"]["enum"]
    assert set(TAG_WORDS) == set(tags)
    assert reason_words("lockout") == "too soon after the last press"
    assert reason_words("unknown") == "other reason (unknown)"
    assert event_words("rejected") == "press not counted"
    assert event_words("from-the-future") == "from-the-future"


@pytest.mark.parametrize(("seconds", "words"), [
    (0.0, "0 s"), (0.34, "0.3 s"), (0.36, "0.4 s"), (3.0, "3 s"), (9.96, "10 s"), (42.4, "42 s"),
    (250.0, "4 min 10 s"), (720.0, "12 min"), (3600.0, "1 h"), (3900.0, "1 h 5 min"),
])
def test_durations_in_words(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


def test_lengths_articles_clock_and_dates() -> None:
    assert [session_length_words(s) for s in (45.0, 59.4, 59.6, 719.9, 3600.0, 5400.0)] == [
        "45-second", "59-second", "1-minute", "12-minute", "1-hour", "90-minute"]
    assert [indefinite_article(n) for n in (1, 8, 11, 12, 18, 80, 89, 100, 800, 8000, 11000)] == [
        "a", "an", "an", "a", "an", "an", "an", "a", "an", "an", "an"]
    assert [clock(s) for s in (0.0, 65.4, 599.6, 3725.0)] == ["0:00", "1:05", "10:00",
                                                                "1:02:05"]
    assert date_words(datetime(2025, 11, 25, 14, 0)) == "Tuesday 25 November 2025"


def test_the_docs_give_every_reasons_words_and_the_example_paragraph() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "dashboard.md").read_text()
    table = text.split("| code | words |")[1].split("\n\n")[0]
    documented = dict(re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", table, flags=re.MULTILINE))
    assert documented == REASON_WORDS
    quoted = text.split("For a 12-minute session:\n\n")[1].split("\n\n")[0]
    assert " ".join(line.removeprefix("> ") for line in quoted.splitlines()) == (
        objective_data(report_of(example_session())))
