"""Cues and the answers to them: the runner sorting presses at known times after the call, on
the station's real audio output (null backend, paced in real time) and its event log."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import AudioSection, load_station
from station.engine.control_socket import ControlError
from station.engine.cues import ATTACH_SECONDS, CueRequest, CueRunner
from station.telemetry.eventlog import EventRecorder
from tests.conftest import SHIPPED_CONFIG

PLAY_INPUTS = ("big-red", "big-blue", "big-yellow", "head-switch")


@pytest.fixture
def output() -> Iterator[Any]:
    from station.sound.output import AudioOutput

    shipped = load_station(SHIPPED_CONFIG / "station.toml")
    output = AudioOutput(AudioSection(backend="null"), shipped.sound_set, shipped.client, [],
                         jack_name="cue-test")
    yield output
    output.release_all()
    output.audio.stop()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[EventRecorder]:
    recorder = EventRecorder(tmp_path)
    yield recorder
    recorder.close()


def events(recorder: EventRecorder, kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    assert recorder.flush()
    with sqlite3.connect(recorder.path) as connection:
        rows = connection.execute(
            "SELECT type, input, t_mono, detail FROM events ORDER BY rowid").fetchall()
    found = [{"type": kind, "input": name, "t_mono": at,
              "detail": json.loads(detail) if detail else {}} for kind, name, at, detail in rows]
    return [event for event in found if not kinds or event["type"] in kinds]


def wait_until_done(runner: CueRunner, timeout: float = 20.0) -> None:
    thread = runner._thread
    assert thread is not None
    thread.join(timeout)
    assert not thread.is_alive(), "the cue did not end"


def call_onset(recorder: EventRecorder, attempt: int = 1, number: int = 1) -> float:
    """When the `number`-th cue with this attempt was given (t_mono), once its `cue` event
    is recorded."""
    import threading

    waited = threading.Event()
    for _ in range(200):
        cues = [e for e in events(recorder, ("cue",)) if e["detail"]["attempt"] == attempt]
        if len(cues) >= number:
            return float(cues[number - 1]["t_mono"])
        waited.wait(0.02)
    pytest.fail(f"no cue event number {number} for attempt {attempt}")


def test_presses_after_the_call_are_sorted_by_when_and_where_they_landed(
    output: Any, recorder: EventRecorder
) -> None:
    runner = CueRunner(output, recorder, PLAY_INPUTS)
    cue = runner.start(CueRequest(targets=("big-red",), window_seconds=3.0))
    onset = call_onset(recorder)
    call_seconds = output.cue_phrase().seconds  # 3 notes of 0.25 s in calm-bells
    assert call_seconds == pytest.approx(0.75)
    runner.pressed("big-blue", onset - 0.05)  # before the call: no part of it
    runner.pressed("big-red", onset + 0.3)  # while the call sounds: an anticipation
    runner.pressed("big-blue", onset + 1.0)  # after it, on another input
    runner.pressed("big-red", onset + 1.25)  # the answer
    runner.pressed("big-red", onset + 1.5)  # after the answer: no part of it
    wait_until_done(runner)

    sorted_presses = [(e["type"], e["input"], e["detail"]) for e in events(
        recorder, ("anticipation", "off_target", "response", "no_response"))]
    assert sorted_presses == [
        ("anticipation", "big-red", {"cue": cue, "attempt": 1, "after_ms": 300.0}),
        ("off_target", "big-blue", {"cue": cue, "attempt": 1, "after_ms": 1000.0}),
        ("response", "big-red", {"cue": cue, "attempt": 1, "latency_ms": 1250.0}),
    ]
    assert runner.cue == ""


def test_a_calls_onset_is_the_moment_the_audio_server_had_rendered_its_first_block(
    output: Any,
) -> None:
    import time

    phrase = output.cue_phrase()
    voice, onset_sample = output.cue_note_on(phrase, phrase.hertz[0], phrase.level)
    handed_at = time.monotonic()
    heard_at = output.heard_at(onset_sample, handed_at)
    rendered = output.audio.samples()
    output.cue_note_off(phrase, voice)
    # Not the moment the note was handed over: the block that holds its first sample had
    # been rendered by then. (How soon after is the cue benchmark's to measure.)
    assert heard_at >= handed_at
    assert rendered > onset_sample


def test_a_call_on_an_audio_clock_that_does_not_move_is_placed_where_it_was_started(
    output: Any,
) -> None:
    import time

    phrase = output.cue_phrase()
    _voice, onset_sample = output.cue_note_on(phrase, phrase.hertz[0], phrase.level)
    output.audio.stop()  # the device is gone: no block will be rendered
    handed_at = time.monotonic()
    assert output.heard_at(onset_sample, handed_at) == handed_at


def test_no_answer_recues_quieter_each_time_then_waits_for_the_therapist(
    output: Any, recorder: EventRecorder
) -> None:
    runner = CueRunner(output, recorder, PLAY_INPUTS)
    cue = runner.start(CueRequest(targets=("big-red", "head-switch"), window_seconds=1.0,
                                  recues=2, quieter_db=6.0, command_id="c-1"))
    wait_until_done(runner)
    cues = events(recorder, ("cue",))
    assert [e["detail"]["attempt"] for e in cues] == [1, 2, 3]
    levels = [e["detail"]["level"] for e in cues]
    assert levels[0] == pytest.approx(output.cue_phrase().level, abs=1e-4)
    for louder, quieter in itertools.pairwise(levels):
        assert quieter == pytest.approx(louder * 10 ** (-6 / 20), abs=1e-4)
    assert all(e["detail"]["targets"] == ["big-red", "head-switch"] for e in cues)
    assert all(e["detail"]["command_id"] == "c-1" for e in cues)
    # The audio clock moves on between attempts: each call is heard later than the one before.
    samples = [e["detail"]["onset_sample"] for e in cues]
    assert samples == sorted(samples) and len(set(samples)) == 3
    no_responses = events(recorder, ("no_response",))
    assert [(e["detail"]["attempt"], e["detail"]["final"]) for e in no_responses] == [
        (1, False), (2, False), (3, True)]
    for cue_event, missed in zip(cues, no_responses, strict=True):
        assert missed["t_mono"] == pytest.approx(cue_event["t_mono"] + 1.0)
        assert missed["detail"]["cue"] == cue
    # Waiting for the therapist now: a new cue may be started.
    assert runner.cue == ""


def test_a_cue_the_station_cannot_run_is_refused_with_the_reason_and_sounds_nothing(
    output: Any, recorder: EventRecorder
) -> None:
    runner = CueRunner(output, recorder, PLAY_INPUTS)
    with pytest.raises(ControlError, match="'volume-up' is no play input of this station"):
        runner.start(CueRequest(targets=("volume-up",)))
    with pytest.raises(ControlError, match=r"window_seconds: 0.5 s is not longer than the cue "
                                           r"itself \(0.75 s\)"):
        runner.start(CueRequest(targets=("big-red",), window_seconds=0.5))
    assert events(recorder, ("cue",)) == []

    cue = runner.start(CueRequest(targets=("big-red",), window_seconds=10.0))
    with pytest.raises(ControlError, match=f"cue {cue} is still waiting for its answer"):
        runner.start(CueRequest(targets=("big-red",)))
    assert runner.cancel() is True
    assert runner.cue == ""
    assert len(events(recorder, ("cue",))) == 1
    assert events(recorder, ("response", "no_response")) == [], "a cancelled cue has no outcome"
    assert runner.cancel() is False


def test_an_observation_belongs_to_the_cue_it_follows_for_ten_seconds(
    output: Any, recorder: EventRecorder
) -> None:
    now = [0.0]
    runner = CueRunner(output, recorder, PLAY_INPUTS)
    assert runner.attached_cue() == ""
    cue = runner.start(CueRequest(targets=("big-red",), window_seconds=2.0))
    assert runner.attached_cue() == cue
    onset = call_onset(recorder)
    runner.pressed("big-red", onset + 1.0)
    wait_until_done(runner)
    # From here the runner's clock is the test's: the attachment ends ATTACH_SECONDS later.
    ended = runner._last_ended
    runner._clock = lambda: now[0]
    now[0] = ended + ATTACH_SECONDS - 0.01
    assert runner.attached_cue() == cue
    now[0] = ended + ATTACH_SECONDS + 0.01
    assert runner.attached_cue() == ""


def activity(name: str = "quick", **settings: Any) -> Any:
    from station.config.activity import Activity

    return Activity.model_validate({"activity": {"name": name, **settings}})


def test_an_activity_sounds_its_cues_one_after_another_and_then_ends(
    output: Any, recorder: EventRecorder
) -> None:
    from station.engine.activities import ActivityRunner

    cues = CueRunner(output, recorder, PLAY_INPUTS)
    quick = activity(window_seconds=1.0, cues=3, pause_seconds=0.5)
    runner = ActivityRunner(cues, lambda: {"quick": quick}, PLAY_INPUTS)
    runner.start("quick")
    assert runner.activity == "quick"
    onset = call_onset(recorder)
    cues.pressed("big-blue", onset + 0.9)  # the first is answered, on any play input
    thread = runner._thread
    assert thread is not None
    thread.join(20)
    assert not thread.is_alive() and runner.activity == ""
    sounded = events(recorder, ("cue",))
    assert [e["detail"]["activity"] for e in sounded] == ["quick"] * 3
    assert all(e["detail"]["targets"] == list(PLAY_INPUTS) for e in sounded)
    assert len({e["detail"]["cue"] for e in sounded}) == 3
    outcomes = [e["type"] for e in events(recorder, ("response", "no_response"))]
    assert outcomes == ["response", "no_response", "no_response"]
    # Each cue comes the pause after the one before ended: the first as soon as its answer
    # was sorted (given here ahead of time), the second when its window (and grace) closed.
    assert 0.5 <= sounded[1]["t_mono"] - sounded[0]["t_mono"] < 0.5 + 0.5
    assert sounded[2]["t_mono"] - sounded[1]["t_mono"] == pytest.approx(1.0 + 0.2 + 0.5,
                                                                        abs=0.3)


def test_an_activity_stopped_by_the_therapist_sounds_no_more_cues(
    output: Any, recorder: EventRecorder
) -> None:
    from station.engine.activities import ActivityRunner

    cues = CueRunner(output, recorder, PLAY_INPUTS)
    long_one = activity("long-one", targets=["head-switch"], window_seconds=30.0, cues=5)
    runner = ActivityRunner(cues, lambda: {"long-one": long_one}, PLAY_INPUTS)
    with pytest.raises(ControlError, match="no activity 'dance'; available: long-one"):
        runner.start("dance")
    runner.start("long-one")
    with pytest.raises(ControlError, match="activity long-one is running; stop it first"):
        runner.start("long-one")
    call_onset(recorder)
    assert runner.stop() is True
    assert runner.activity == "" and cues.cue == ""
    assert [e["detail"]["targets"] for e in events(recorder, ("cue",))] == [["head-switch"]]
    assert events(recorder, ("response", "no_response")) == []
    assert runner.stop() is False


def test_a_cue_lights_its_targets_leds_until_it_is_answered_and_gives_them_back(
    output: Any, recorder: EventRecorder, mock_factory: Any
) -> None:
    from station.engine.press import PressPath
    from station.inputs.switches import SwitchBoard

    shipped = load_station(SHIPPED_CONFIG / "station.toml")
    board = SwitchBoard(shipped.config.inputs, shipped.client.access,
                        PressPath(output, recorder), mock_factory, simulate=True)
    lit_inputs = [item.name for item in shipped.config.inputs if item.led_pin is not None]
    assert "head-switch" not in lit_inputs  # the 3.5 mm switch has no LED
    red_led = mock_factory.pin(5)  # big-red's led_pin in the shipped station file
    try:
        runner = CueRunner(output, recorder, PLAY_INPUTS, lights=board.cue_lights,
                           lit_inputs=lit_inputs)
        with pytest.raises(ControlError, match="none of the targets has an LED"):
            runner.start(CueRequest(targets=("head-switch",), show="light"))
        assert not red_led.state

        runner.start(CueRequest(targets=("big-red", "head-switch"), window_seconds=3.0,
                                show="light"))
        onset = call_onset(recorder)
        [cue] = events(recorder, ("cue",))
        assert cue["detail"]["show"] == "light" and cue["detail"]["lit"] == ["big-red"]
        assert "onset_sample" not in cue["detail"], "a light has no call to place"
        assert red_led.state, "the target's LED is lit while the cue waits"
        # No call sounds: a press at once is already an answer.
        runner.pressed("head-switch", onset + 0.4)
        wait_until_done(runner)
        assert not red_led.state, "given back: its note is not sounding"
        [response] = events(recorder, ("response",))
        assert response["input"] == "head-switch"
        assert response["detail"]["latency_ms"] == 400.0

        # Both: the call sounds and the LED is lit with it.
        runner.start(CueRequest(targets=("big-red",), window_seconds=2.0))
        call_onset(recorder, number=2)
        assert red_led.state
        wait_until_done(runner)
        assert not red_led.state
        assert events(recorder, ("cue",))[-1]["detail"]["show"] == "both"
    finally:
        board.close()
