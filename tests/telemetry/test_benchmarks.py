"""The telemetry benchmarks run end to end and report numbers (tiny runs: not measurements)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def bench(*arguments: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "station", "bench", *arguments],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_press_to_message_reports_percentiles_per_rate() -> None:
    report = bench("press_to_message", "--rates", "20", "--seconds", "1")
    rate = report["rates"]["20/s"]
    assert rate["presses"] == 20 and rate["count"] == 20
    assert 0 < rate["p50"] <= rate["p99"] <= rate["max"] < 5000
    assert report["environment"]["commit"]


def test_outbox_throughput_delivers_everything_it_records() -> None:
    report = bench("outbox_throughput", "--events", "500")
    assert report["all_delivered"] is True
    assert report["recorded_per_second"] > 0 and report["delivered_per_second"] > 0
