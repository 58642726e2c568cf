"""The sound benchmarks run end to end and report what they measured (tiny runs: the numbers
are not measurements, the reports' content is what is checked)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHIPPED_CONFIG


def bench(*arguments: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "station", "bench", *arguments],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_latency_hears_every_press_over_sixteen_sounding_voices() -> None:
    report = bench("latency", "--presses", "12", "--warm-up", "2", "--background-voices", "16")
    station, reference = report["station"], report["reference"]
    assert station["background_voices"] == 16
    # The background is sounding (the listener heard it) and the probe is still found above it.
    assert station["background_peak"] > 0
    assert station["threshold"] > reference["threshold"]
    for measured in (station, reference):
        assert measured["heard"] == 12 and measured["missed"] == 0
        assert 0 <= measured["min_ms"] <= measured["p50_ms"] <= measured["p99_ms"]
        assert 0 <= measured["dropouts"] <= measured["xruns"]
        blamed = measured["xruns_while_running_most"]
        assert set(blamed) <= {"program", "jackd", "broker", "agent", "benchmark", "idle",
                               "unknown"}
        # Both counts start at the end of the warm-up (a JACK thread may add one meanwhile).
        assert abs(sum(blamed.values()) - measured["xruns"]) <= 1
    assert report["jackd_with_only_the_listener"]["xruns"] >= 0


@pytest.mark.browser
def test_latency_can_run_the_dashboard_and_a_browser_beside_the_station() -> None:
    report = bench("latency", "--presses", "12", "--warm-up", "2", "--background-voices", "0",
                   "--with-dashboard")
    assert report["with_dashboard"] is True
    assert report["station"]["heard"] == 12
    beside = report["station"]["dashboard"]
    assert beside["rooms_shown"] == 1  # the station reached the page through the dashboard
    assert beside["rss_mb"] > 10 and beside["cpu_s"] > 0


def test_footprint_reports_the_engine_freezing_its_long_lived_objects() -> None:
    report = bench("footprint", "--runs", "1")
    collection = report["full_garbage_collection_ms"]
    # The engine's pyo graph and sound sets are tens of thousands of objects; a full
    # collection after start-up no longer walks them.
    assert collection["objects_frozen"] > 10_000
    assert collection["before_freezing"] > 0
    assert report["rss_megabytes"] > 0


def test_an_installed_station_without_its_examples_is_told_where_they_were_looked_for(
    tmp_path: Path,
) -> None:
    """Outside a source checkout the examples come from the install (or STATION_EXAMPLES)."""
    missing = tmp_path / "no-examples"
    result = subprocess.run(
        [sys.executable, "-m", "station", "bench", "footprint", "--runs", "1"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "STATION_EXAMPLES": str(missing)},
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"station: the benchmarks measure with the shipped example configuration, which is "
        f"not at {missing}; run them from a source checkout, install with "
        "scripts/install-pi.sh, or name the folder with STATION_EXAMPLES=/path/to/config")


def test_a_configuration_that_cannot_be_copied_is_a_sentence(tmp_path: Path) -> None:
    """A file the benchmark may not read (a named pipe stands in: root reads every file)."""
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, folder)
    os.mkfifo(folder / "clients" / "C-PIPE.toml")

    result = subprocess.run(
        [sys.executable, "-m", "station", "bench", "footprint", "--runs", "1",
         "--config", str(folder / "station.toml")],
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"station: {folder / 'clients' / 'C-PIPE.toml'} cannot be "
                                    "read (")
    assert "run the benchmark as a user who may read the station's configuration" \
        in result.stderr


def test_latency_measures_pd_and_scsynth_the_same_way() -> None:
    """The peers a user would pick instead each hear every press at their own JACK port: Pd
    through pdsend, scsynth through the OSC glue with the SynthDef encoded here."""
    report = bench("latency", "--presses", "8", "--warm-up", "2", "--background-voices", "0",
                   "--peers")
    assert set(report["peers"]) == {"pd", "scsynth"}
    for measured in report["peers"].values():
        assert measured["heard"] == 8 and measured["missed"] == 0
        assert 0 <= measured["min_ms"] <= measured["p50_ms"] <= measured["p99_ms"]
    best = report["best_peer"]
    assert report["peers"][best]["p99_ms"] == min(
        measured["p99_ms"] for measured in report["peers"].values())
    assert report["station_p99_over_best_peer_p99"] == round(
        report["station"]["p99_ms"] / report["peers"][best]["p99_ms"], 3)


def test_an_xrun_is_put_down_to_the_process_that_ran_most_just_before_it() -> None:
    from station.bench._cpu import attribute

    ms = 1_000_000
    names = ["program", "agent"]
    # Samples every 5 ms of how long each had run (ns): the agent busy from 20 ms to 30 ms,
    # the program busy from 40 ms to 50 ms, nothing from 60 ms on.
    runs = {0: (0, 0), 5: (0, 0), 10: (0, 0), 15: (0, 0), 20: (0, 0), 25: (0, 4 * ms),
            30: (0, 8 * ms), 35: (0, 8 * ms), 40: (0, 8 * ms), 45: (4 * ms, 8 * ms),
            50: (8 * ms, 8 * ms), 55: (8 * ms, 8 * ms), 60: (8 * ms, 8 * ms),
            65: (8 * ms, 8 * ms), 70: (8 * ms, 8 * ms), 75: (8 * ms, 8 * ms)}
    samples = [(at * ms, list(ran)) for at, ran in runs.items()]

    assert attribute([29 * ms, 49 * ms, 51 * ms, 74 * ms, 500 * ms], names, samples) == {
        "agent": 1, "program": 2, "idle": 1, "unknown": 1}


def test_cue_times_every_answer_against_the_call_heard_at_the_jack_port() -> None:
    report = bench("cue", "--cues", "4", "--warm-up", "1")
    assert report["answered"] == 4, "each cue was answered and its response recorded"
    error, start = report["cue_latency_error"], report["cue_start_to_sound"]
    # The station places the call's first sample where the audio clock passed it: off by a
    # fraction of a block here (a block is the goal), never by the call's length or the
    # press's delay.
    assert error["abs_max_ms"] < 50.0
    assert 0.0 < start["min_ms"] <= start["p99_ms"] < 100.0
    assert start["cues_with_an_xrun_near_the_sound"] >= 0 and report["xruns"] >= 0
    assert report["goals"] == {"cue_latency_error_abs_max_ms": 1.333,
                               "cue_start_to_sound_p99_ms": 3.0}


def test_sensors_measures_a_change_to_the_zones_note_at_the_jack_port() -> None:
    report = bench("sensors", "--trials", "4", "--warm-up", "1")
    assert report["trials"] == 4, "every change was heard as a note"
    latency = report["sensor_to_sound"]
    # The change lands anywhere in the 10 ms poll interval, and the note then starts within
    # the next audio period or so; never seconds (no note, or one per filter settling).
    assert 0.0 < latency["min_ms"] <= latency["max_ms"] < 100.0
    assert report["goals"] == {"sensor_to_sound_p99_ms": 13.0}
    smoothing = report["smoothing_delay_ms"]
    assert smoothing["to_half"]["p99_ms"] <= smoothing["unsmoothed"]["p99_ms"] + 0.001, (
        "the filter passes half a full squeeze at the first reading after it")
    assert smoothing["to_90_percent"]["max_ms"] <= 40.0 + 10.0
