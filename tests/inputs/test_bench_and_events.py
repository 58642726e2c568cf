"""Decisions reach the event log through the engine's real press path, and `station bench inputs`
measures that path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station.bench import inputs as bench_inputs
from station.config import AccessSection, InputConfig, load_station
from station.contract.events import EventType
from station.engine.press import PressPath
from station.inputs.switches import SwitchBoard
from station.sound.engine import SoundEngine
from station.telemetry.eventlog import EventReader, EventRecorder

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "station.toml"


def test_rejected_presses_are_recorded_with_their_reason_like_accepted_ones(
    mock_factory: Any, pyo_server: Any, tmp_path: Path
) -> None:
    loaded = load_station(SHIPPED)
    recorder = EventRecorder(tmp_path)
    recorder.start_session("C-7F3K", "calm-bells", detail={})
    press_path = PressPath(SoundEngine(2, loaded.sound_set, loaded.client), recorder)
    board = SwitchBoard([InputConfig(name="big-red", pin=17)],
                        AccessSection(debounce_ms=0, lockout_ms=10000), press_path, mock_factory,
                        simulate=False)
    pin = mock_factory.pin(17)
    pin.drive_low()
    pin.drive_high()
    pin.drive_low()  # within the lockout
    pin.drive_high()
    board.close()
    recorder.close()
    reader = EventReader(tmp_path)
    events = [(e.type, e.input, e.reason, e.client) for e in reader.after(0)][1:]
    reader.close()
    assert events == [
        (EventType.PRESS, "big-red", None, "C-7F3K"),
        (EventType.RELEASE, "big-red", None, "C-7F3K"),
        (EventType.REJECTED, "big-red", "lockout", "C-7F3K"),
    ]


def test_bench_inputs_times_every_edge_and_records_every_note() -> None:
    parser = argparse.ArgumentParser()
    bench_inputs.add_arguments(parser)
    arguments = parser.parse_args(["--edges", "400", "--pace-us", "0", "--config", str(SHIPPED)])
    result = bench_inputs.run(arguments)
    for run in ("reference", "notes", "notes_back_to_back", "inputs_only", "bounce"):
        assert result[run]["edges"] == 400
        assert 0 < result[run]["p50_us"] <= result[run]["p99_us"] <= result[run]["max_us"]
    # The station's press path does more than the bare reference (filter, LED, event log).
    assert result["notes"]["p50_us"] > result["reference"]["p50_us"]
    assert result["notes"]["p99_over_reference_p99"] == round(
        result["notes"]["p99_us"] / result["reference"]["p99_us"], 2)
    assert result["goal_met"] == (result["notes"]["p99_over_reference_p99"] <= 1.5)
    # Two note runs of 400 timed and 1000 warm-up edges each, one event per edge, plus the
    # session start and the bounce run's opening press (its release is inside the window).
    assert result["events_recorded"] == 2 * 1400 + 2
