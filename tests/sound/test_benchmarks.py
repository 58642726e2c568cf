"""The sound benchmarks run end to end and report what they measured (tiny runs: the numbers
are not measurements, the reports' content is what is checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


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
