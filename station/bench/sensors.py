"""`station bench sensors`: from a variable sensor's change to sound, and the filter's delay.

``sensor_to_sound``: runs `station engine --simulate` on jackd's dummy driver (48 kHz,
64-frame periods) with the shipped configuration plus one sensor (``--sensor analog``, an
MCP3008 channel on gpiozero's mock SPI, 100 readings a second; or ``distance``, an HC-SR04
on mock pins, 16 a second), its slot playing zones on the sine without reverb, and a JACK
client listening to the engine's first output port. For each trial the listener is armed
(the JACK frame of that moment), the benchmark writes ``set NAME 0.9`` to the engine's stdin
(the simulated hand moves at once), and the listener hears the zone's note's first sample;
then the value goes back to 0 and the note rings out. The change lands anywhere within the
sensor's poll interval, so the goal is p99 ≤ the poll interval + 3 ms.

``smoothing_delay_ms``: the 1-euro filter (with the profile's default settings) fed a step
from rest to a full squeeze, at the sensor's rate and at a random phase: how long after the
step its output passes half the step (``to_half``) and 90 % of it (``to_90_percent``). No
smoothing at all would pass both at the first reading after the step (``unsmoothed``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

from station.bench._jack import (
    PERIOD,
    RATE,
    PortListener,
    engine_on_dummy_jack,
    sine_station_on_jack,
)

SENSORS: dict[str, dict[str, Any]] = {
    "analog": {"name": "squeeze", "kind": "analog", "adc": "mcp3008", "channel": 0},
    "distance": {"name": "beam", "kind": "distance", "pin": 20, "echo_pin": 21},
}
STEP_VALUE = 0.9


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sensor", choices=sorted(SENSORS), default="analog",
                        help="the sensor measured (default analog)")
    parser.add_argument("--trials", type=int, default=200, help="changes measured (default 200)")
    parser.add_argument("--warm-up", type=int, default=5,
                        help="changes made first and not counted (default 5)")
    parser.add_argument("--realtime", action="store_true",
                        help="run jackd (and so the audio threads) with real-time priority")


def _station(folder: Path, sensor: dict[str, Any]) -> tuple[Path, Path, float]:
    """The shipped configuration on JACK with `sensor` on a zones slot of its own; (station
    file, data dir, the sensor's poll interval in ms)."""
    from station.config.station_file import InputConfig

    added: dict[str, Any] = {}

    def add_sensor(station: dict[str, Any], sound_set: dict[str, Any]) -> None:
        sound_set["slots"].append({"action": "note", "sensor": "zones", "zones": 5})
        added.update(sensor, slot=len(sound_set["slots"]))
        station["inputs"].append(added)

    station_file, data_dir = sine_station_on_jack(folder, add_sensor)
    interval_ms = 1000.0 / InputConfig.model_validate(added).readings_per_second
    return station_file, data_dir, interval_ms


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(cut[49], 3), "p99_ms": round(cut[98], 3),
            "max_ms": round(ordered[-1], 3), "min_ms": round(ordered[0], 3)}


def smoothing_delay(interval_seconds: float, trials: int = 1000) -> dict[str, Any]:
    """The default 1-euro filter's delay after a step from 0 to STEP_VALUE, read every
    `interval_seconds` from a random phase: (to half, to 90 %) percentiles, ms."""
    from station.config.client import SensorCalibrationSection
    from station.inputs.sensing import OneEuroFilter

    defaults = SensorCalibrationSection()
    phases = random.Random(5)
    to_half: list[float] = []
    to_most: list[float] = []
    unsmoothed: list[float] = []
    for _ in range(trials):
        smoothing = OneEuroFilter(defaults.steady_hz, defaults.responsiveness)
        for reading in range(50):  # at rest for half a second or more
            smoothing(0.0, reading * interval_seconds)
        step_at = 50 * interval_seconds - phases.uniform(0.0, interval_seconds)
        half = most = None
        reading = 50
        while most is None:
            at = reading * interval_seconds
            value = smoothing(STEP_VALUE, at)
            if half is None and value >= STEP_VALUE / 2:
                half = at - step_at
            if value >= STEP_VALUE * 0.9:
                most = at - step_at
            reading += 1
        to_half.append((half or 0.0) * 1000.0)
        to_most.append(most * 1000.0)
        unsmoothed.append((50 * interval_seconds - step_at) * 1000.0)
    return {"to_half": _percentiles(to_half), "to_90_percent": _percentiles(to_most),
            "unsmoothed": _percentiles(unsmoothed),
            "filter": {"steady_hz": defaults.steady_hz,
                       "responsiveness": defaults.responsiveness}}


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    sensor = SENSORS[arguments.sensor]
    with tempfile.TemporaryDirectory() as folder:
        station_file, data_dir, interval_ms = _station(Path(folder), sensor)
        with engine_on_dummy_jack(station_file, data_dir, arguments.realtime) as (
                engine, listener):
            assert engine.stdin is not None
            latencies = _trials(arguments, listener, engine.stdin, sensor["name"])
    return {
        "jack": {"driver": "dummy", "sample_rate": RATE, "period_frames": PERIOD,
                 "realtime": arguments.realtime},
        "sensor": {**sensor, "poll_interval_ms": round(interval_ms, 3)},
        "trials": len(latencies),
        "sensor_to_sound": {
            **(_percentiles(latencies) if len(latencies) >= 2 else {}),
            "what": "from the simulated sensor's change (written to the engine's stdin) to "
                    "the zone note's first sample at the JACK port, ms",
        },
        "smoothing_delay_ms": smoothing_delay(interval_ms / 1000.0),
        "goals": {"sensor_to_sound_p99_ms": round(interval_ms + 3.0, 3)},
        "caveat": "a 2-core machine shared with other work"
        + ("" if arguments.realtime else "; jackd without real-time priority"),
    }


def _trials(arguments: argparse.Namespace, listener: PortListener, stdin: Any,
            name: str) -> list[float]:
    jitter = random.Random(13)
    waited = threading.Event()
    latencies = []
    for number in range(arguments.warm_up + arguments.trials):
        if not listener.quiet.wait(10):
            raise RuntimeError("the engine's output did not fall silent between changes")
        # Rest long enough for the filter to settle at 0, at a random phase of the polling.
        waited.wait(0.3 + jitter.uniform(0.0, 0.1))
        sent = listener.arm()
        stdin.write(f"set {name} {STEP_VALUE}\n")
        stdin.flush()
        if not listener.heard.wait(2) or listener.onset is None:
            raise RuntimeError("the zone's note was not heard at the JACK port")
        onset = listener.onset
        waited.wait(0.2)
        stdin.write(f"set {name} 0\n")
        stdin.flush()
        if number >= arguments.warm_up:
            latencies.append((onset - sent) * 1000.0 / RATE)
    return latencies
