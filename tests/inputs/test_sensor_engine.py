"""Variable sensors inside a running `station engine --simulate`: driven by piped
``set NAME 0.42`` lines, calibrated by command, the measured range saved into the client's
profile file (its comments kept) and applied at once."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.engine.control_socket import send_command
from tests.inputs.test_engine_inputs import RunningEngine, running_engine

SENSORS = [
    {"name": "squeeze", "kind": "analog", "adc": "mcp3008", "channel": 0, "slot": 2},
    {"name": "beam", "kind": "distance", "pin": 20, "echo_pin": 21, "slot": 1},
]


@pytest.fixture
def engine(station_config: Any) -> Iterator[RunningEngine]:
    import tomli_w

    path = station_config({"audio.backend": "null"})
    data = tomllib.loads(path.read_text())
    data["inputs"].extend(SENSORS)
    path.write_text(tomli_w.dumps(data))
    with running_engine(path) as running:
        yield running


def profile_path(engine: RunningEngine) -> Path:
    return engine.data_dir.parent / "config" / "clients" / "C-7F3K.toml"


def test_a_calibration_run_saves_the_clients_range_and_keeps_the_files_comments(
    engine: RunningEngine,
) -> None:
    before = profile_path(engine).read_text()
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert comments, "the shipped profile has comments to keep"
    # At rest the pad already reads 0.2 (the client's hand lies on it).
    engine.send("set squeeze 0.2")
    threading.Event().wait(0.5)
    reply = send_command(engine.data_dir, {"command": "calibrate_sensor", "input": "squeeze",
                                           "seconds": 2})
    assert reply["ok"]
    # The client squeezes as far as they can, twice, and lets go: 0.2 to 0.65 of the sensor.
    for value in ("0.5", "0.65", "0.4", "0.2", "0.6", "0.2", "0.2"):
        engine.send(f"set squeeze {value}")
        threading.Event().wait(0.2)
    events = engine.wait_for("the calibration", lambda events: any(
        e.type == "sensor_calibrated" for e in events))
    [done] = [e for e in events if e.type == "sensor_calibrated"]
    assert done.reason is None and done.input == "squeeze" and done.client == "C-7F3K"
    assert done.detail["floor"] == pytest.approx(0.2, abs=0.03)
    assert done.detail["ceiling"] == pytest.approx(0.65, abs=0.03)
    after = profile_path(engine).read_text()
    saved = tomllib.loads(after)["sensors"]["squeeze"]
    assert (saved["floor"], saved["ceiling"]) == (done.detail["floor"], done.detail["ceiling"])
    assert all(line in after for line in comments), "the therapist's comments are kept"
    assert load_station(engine.data_dir.parent / "config" / "station.toml").clients[
        "C-7F3K"].sensors["squeeze"].ceiling == saved["ceiling"]

    # Applied at once: 0.6 of the sensor is now near the top of this client's range, a press.
    engine.send("set squeeze 0.0")
    engine.send("set squeeze 0.6")
    engine.wait_for("a squeeze in the calibrated range", lambda events: any(
        e.type == "press" and e.input == "squeeze" and e.seq > done.seq for e in events))


def test_a_calibration_without_movement_saves_nothing(engine: RunningEngine) -> None:
    before = profile_path(engine).read_text()
    engine.send("set squeeze 0.3")
    threading.Event().wait(0.5)  # the hand rests; the client cannot move it now
    assert send_command(engine.data_dir, {"command": "calibrate_sensor", "input": "squeeze",
                                          "seconds": 2})["ok"]
    events = engine.wait_for("the calibration", lambda events: any(
        e.type == "sensor_calibrated" for e in events))
    [done] = [e for e in events if e.type == "sensor_calibrated"]
    assert done.reason == "too_little_movement"
    assert profile_path(engine).read_text() == before


def test_calibrating_what_is_not_a_sensor_is_refused(engine: RunningEngine) -> None:
    reply = send_command(engine.data_dir, {"command": "calibrate_sensor", "input": "big-red"})
    assert not reply["ok"]
    assert "no sensor 'big-red'; sensors: squeeze, beam" in reply["error"]
    reply = send_command(engine.data_dir, {"command": "calibrate_sensor", "input": "squeeze",
                                           "seconds": 60})
    assert not reply["ok"]
    assert "seconds: 60 is greater than the maximum of 30" in reply["error"]


def test_a_beam_that_hears_no_echo_is_reported_once(engine: RunningEngine) -> None:
    engine.send("set beam 0.8")
    engine.wait_for("a press on the beam", lambda events: any(
        e.type == "press" and e.input == "beam" for e in events))
    engine.send("set beam none")
    engine.wait_for("the release", lambda events: any(
        e.type == "release" and e.input == "beam" for e in events))
    threading.Event().wait(1.0)
    engine.send("set beam 0.8")
    events = engine.wait_for("readings again", lambda events: any(
        e.type == "sensor_back" for e in events))
    assert [e.reason for e in events if e.type == "sensor_lost"] == ["no_echo"]
