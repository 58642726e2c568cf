"""`station bench dashboard` end to end at tiny sizes: every key there, with sane values.

Not a measurement (the sizes are far too small, and the machine is shared): it proves the
benchmark runs its real parts (mosquitto, `station run --simulate`, `station dashboard` on
SQLite and on PostgreSQL, chromium) and checks what it stored.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.browser


def test_the_dashboard_benchmark_reports_every_part() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "station", "bench", "dashboard", "--short", "--presses", "5",
         "--stations", "3", "--ingest-rate", "300", "--ingest-seconds", "1",
         "--client-sessions", "3", "--client-events", "600", "--client-runs", "3"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["benchmark"] == "dashboard"

    press = found["press_to_browser"]
    assert (press["presses"], press["shown"], press["rate_per_s"]) == (5, 5, 10.0)
    assert 0 < press["p50_ms"] <= press["p99_ms"] <= press["max_ms"] < 30_000

    ingest = found["ingest"]
    assert ingest["sqlite_events_per_s"] > 0 and ingest["postgresql_events_per_s"] > 0
    assert ingest["press_to_browser_p99_ms"] > 0 and ingest["stations"] == 3
    for backend in ("sqlite", "postgresql"):
        stored = ingest["backends"][backend]
        assert stored["events"] == 300 and stored["stored"] == 300
        assert stored["redeliveries_published"] == 15
        assert stored["duplicates_counted"] >= 15 and stored["gaps_left"] == 0
        assert stored["stored_once"] is True
        assert stored["press_to_browser"]["shown"] == stored["press_to_browser"]["presses"]

    page = found["client_page"]
    assert (page["sessions"], page["runs"], page["backend"]) == (3, 3, "sqlite")
    assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"]

    footprint = found["footprint"]
    assert 10 < footprint["rss_mb"]["idle"] < 2000
    assert 10 < footprint["rss_mb"]["under_ingest"] < 2000
    assert 0 < footprint["start_to_ready_s"] <= footprint["start_to_healthy_s"] < 60
    assert found["goals"] == {"press_to_browser_p99_ms": 150.0, "events_per_s": 5000.0,
                              "client_page_p95_ms": 200.0}


def test_one_part_alone_is_all_it_reports() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "station", "bench", "dashboard", "--only", "client_page",
         "--client-sessions", "2", "--client-events", "100", "--client-runs", "2"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert set(found) == {"benchmark", "environment", "client_page", "goals", "caveat"}
