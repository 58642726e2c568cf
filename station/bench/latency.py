"""Press to sound: a mock GPIO press → the first non-silent sample at the JACK output port.

Starts jackd with the dummy driver (48 kHz, 64-frame periods, real-time clocked, no sound
card) and measures, in JACK frames, from the moment a press is sent to the first sample above
the threshold at the output port, for (a) the station (`station engine --simulate` with
the telemetry agent and the embedded broker running beside it, a hi-hat sound set) and (b) a
bare gpiozero + pyo script (station/bench/_reference_synth.py) in the same run. Presses reach
each program as a `press` line on stdin that its simulation turns into
`MockPin.drive_low()`; the pipe's cost is in both numbers. The time at the output port
excludes the driver's output buffering (two periods, 2.67 ms) and the converter.

With ``--telemetry-events-per-second 200`` the bench also adds 200 events a second to the
station's event log while the station is measured, so that the telemetry agent beside the
engine delivers them to the broker meanwhile (issue 5: the engine's p99 must not move).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

RATE = 48000
PERIOD = 64
THRESHOLD = 1e-5
QUIET_FRAMES = RATE * 30 // 1000  # silence this long before the next press
SHIPPED_CONFIG = Path(__file__).resolve().parent.parent.parent / "config"

PROBE_SOUND_SET = """
[sound_set]
name = "latency-probe"
description = "A short hi-hat on every input, dry: each press is heard at once and soon over."
instrument = "drums"
reverb = 0.0
volume = 0.8

[[slots]]
action = "drum"
drum = "hat"
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presses", type=int, default=500,
                        help="presses per program (default 500)")
    parser.add_argument("--warm-up", type=int, default=20,
                        help="presses first played and not counted (default 20)")
    parser.add_argument("--hold-ms", type=float, default=20.0,
                        help="how long each press is held, ms (default 20)")
    parser.add_argument("--realtime", action="store_true",
                        help="run jackd (and so the audio threads) with real-time priority, as a "
                        "Pi does; needs permission for SCHED_FIFO (default: without)")
    parser.add_argument("--telemetry-events-per-second", type=float, default=0.0, metavar="N",
                        help="while the station is measured, add N events a second to its event "
                        "log for the telemetry agent to deliver (default 0; issue 5 asks for 200)")


class TelemetryLoad:
    """Adds events to the station's event log at a steady rate, so that the telemetry agent
    beside the engine is busy delivering while the engine's latency is measured."""

    def __init__(self, data_dir: Path, per_second: float) -> None:
        from station.telemetry.eventlog import EventRecorder

        self.recorder = EventRecorder(data_dir)
        self.period = 1.0 / per_second
        self.recorded = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="telemetry-load", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from station.telemetry.eventlog import PRESS

        due = time.monotonic()
        while not self.stopping.wait(max(0.0, due - time.monotonic())):
            self.recorder.record(PRESS, "telemetry-load", None)
            self.recorded += 1
            due += self.period

    def close(self) -> int:
        self.stopping.set()
        self.thread.join(5)
        self.recorder.close()
        return self.recorded


class PortListener:
    """A JACK client listening to one output port: onset frames after an armed press, quiet
    spells between presses, and the server's xruns."""

    def __init__(self, server: str) -> None:
        import jack

        self.client = jack.Client("latency-listener", servername=server, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.xruns = 0
        self.armed_at: int | None = None
        self.onset: int | None = None
        self.heard = threading.Event()
        self.quiet = threading.Event()
        self._last_loud = 0
        self._cycle = (0, time.monotonic())
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delay_microseconds: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        start = self.client.last_frame_time
        self._cycle = (start, time.monotonic())
        buffer = memoryview(self.port.get_buffer()).cast("f")
        first = next((i for i in range(frames) if abs(buffer[i]) > THRESHOLD), None)
        if first is not None:
            last = next(i for i in range(frames - 1, -1, -1) if abs(buffer[i]) > THRESHOLD)
            self._last_loud = start + last
            if self.armed_at is not None and self.onset is None:
                self.onset = start + first
                self.heard.set()
        if start + frames - self._last_loud > QUIET_FRAMES:
            self.quiet.set()
        else:
            self.quiet.clear()

    def arm(self) -> int:
        """Start looking for an onset; the JACK frame of this moment.

        The start of the cycle this listener last processed plus the wall-clock time since,
        at the sample rate, kept within that cycle's period: a dummy driver running behind
        real time advances fewer frames than the clock, and that must not make a press look
        later (and its latency shorter) than it was. (jack_frame_time's own estimate jumped
        by whole periods after xruns; jack_last_frame_time is only valid inside the process
        callback.)
        """
        self.onset = None
        self.heard.clear()
        frame, at = self._cycle
        elapsed = round((time.monotonic() - at) * RATE)
        self.armed_at = frame + min(max(elapsed, 0), PERIOD - 1)
        return self.armed_at

    def wait_for_port(self, name: str, timeout: float) -> None:
        waited = threading.Event()
        for _ in range(int(timeout * 10)):
            if self.client.get_ports(name):
                self.client.connect(name, self.port)
                return
            waited.wait(0.1)
        raise RuntimeError(f"JACK port {name} did not appear within {timeout} s")

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _station_config(folder: Path) -> tuple[Path, str]:
    import tomllib

    import tomli_w

    copy = folder / "config"
    shutil.copytree(SHIPPED_CONFIG, copy)
    (copy / "sound-sets" / "latency-probe.toml").write_text(PROBE_SOUND_SET)
    station = copy / "station.toml"
    data = tomllib.loads(station.read_text())
    data["station"].update(data_dir=str(folder / "data"), sound_set="latency-probe")
    data["audio"].update(backend="jack", buffer_size=PERIOD, sample_rate=RATE)
    data["mqtt"].update(host="", port=_free_port())
    station.write_text(tomli_w.dumps(data))
    first_input = data["inputs"][0]["name"]
    return station, first_input


def _start_jackd(name: str, realtime: bool) -> subprocess.Popen[bytes]:
    import jack

    binary = shutil.which("jackd") or "/usr/bin/jackd"
    if not Path(binary).exists():
        raise RuntimeError("jackd is not installed: apt-get install jackd2")
    # With --realtime, jackd and its clients' audio threads (the engine's and the reference's)
    # run SCHED_FIFO, as on a Pi whose units allow LimitRTPRIO; needs the right to do so.
    priority = ["--realtime"] if realtime else ["--no-realtime"]
    process = subprocess.Popen(
        [binary, "-n", name, *priority, "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    jack.set_error_function(lambda message: None)
    waited = threading.Event()
    for _ in range(100):
        try:
            jack.Client("probe", servername=name, no_start_server=True).close()
            return process
        except jack.JackError:
            if process.poll() is not None:
                break
            waited.wait(0.1)
    process.kill()
    raise RuntimeError("jackd with the dummy driver did not start")


def _measure(
    command: list[str], port: str, press: str, release: str, server: str,
    arguments: argparse.Namespace, ready_line: str | None,
) -> dict[str, Any]:
    program = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env={**os.environ, "JACK_DEFAULT_SERVER": server},
    )
    assert program.stdin is not None and program.stdout is not None
    listener = PortListener(server)
    latencies: list[int] = []
    missed = 0
    jitter = random.Random(1)
    waited = threading.Event()
    try:
        if ready_line is not None:
            for line in program.stdout:
                if line.strip() == ready_line:
                    break
        listener.wait_for_port(port, 60)
        xruns_before = 0
        for number in range(arguments.warm_up + arguments.presses):
            if number == arguments.warm_up:
                latencies.clear()
                missed = 0
                xruns_before = listener.xruns
            if not listener.quiet.wait(5):
                raise RuntimeError(f"{port} did not fall silent between presses")
            # Presses land anywhere within a period, as a hand's would.
            waited.wait(jitter.uniform(0, 3 * PERIOD / RATE))
            pressed_at = listener.arm()
            program.stdin.write(press + "\n")
            program.stdin.flush()
            if listener.heard.wait(2) and listener.onset is not None:
                latencies.append(listener.onset - pressed_at)
            else:
                missed += 1
            waited.wait(arguments.hold_ms / 1000)
            program.stdin.write(release + "\n")
            program.stdin.flush()
        xruns = listener.xruns - xruns_before
    finally:
        listener.close()
        program.terminate()
        try:
            program.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            program.kill()
            program.communicate()
    milliseconds = sorted(frames * 1000.0 / RATE for frames in latencies)
    percentiles = statistics.quantiles(milliseconds, n=100, method="inclusive")
    return {
        "presses": arguments.presses,
        "warm_up_presses_not_counted": arguments.warm_up,
        "heard": len(latencies),
        "missed": missed,
        "p50_ms": round(percentiles[49], 3),
        "p99_ms": round(percentiles[98], 3),
        "max_ms": round(milliseconds[-1], 3),
        "min_ms": round(milliseconds[0], 3),
        "xruns": xruns,
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    server = f"bench-{uuid.uuid4().hex[:8]}"
    jackd = _start_jackd(server, arguments.realtime)
    try:
        with tempfile.TemporaryDirectory() as folder:
            station, first_input = _station_config(Path(folder))
            import tomllib

            station_id = tomllib.loads(station.read_text())["station"]["id"]
            reference = _measure(
                [sys.executable, "-m", "station.bench._reference_synth"],
                "latency-reference:output_1", "press", "release", server, arguments, "ready",
            )
            # The engine runs as systemd runs it on a Pi, beside the broker and the telemetry
            # agent; `station run` would add its supervisor's stdin relay to every press.
            beside = [
                subprocess.Popen(
                    [sys.executable, "-m", "station", role, "--config", str(station)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for role in ("broker", "agent")
            ]
            load = None
            data_dir = Path(folder) / "data"
            if arguments.telemetry_events_per_second > 0:
                load = TelemetryLoad(data_dir, arguments.telemetry_events_per_second)
            try:
                measured = _measure(
                    [sys.executable, "-m", "station", "engine", "--simulate", "--config",
                     str(station)],
                    f"sensory-station-{station_id}:output_1", f"press {first_input}",
                    f"release {first_input}", server, arguments, None,
                )
                if load is not None:
                    from station.telemetry.eventlog import DeliveryCursor

                    telemetry = {
                        "events_per_second": arguments.telemetry_events_per_second,
                        "added": load.close(),
                    }
                    # Read while the agent still runs: how far it had delivered by the end.
                    cursor = DeliveryCursor(data_dir)
                    telemetry["delivered_seq"] = cursor.seq
                    cursor.close()
                    measured["telemetry_load"] = telemetry
            finally:
                if load is not None and not load.stopping.is_set():
                    load.close()
                for process in beside:
                    process.terminate()
                    process.wait(20)
    finally:
        jackd.terminate()
        jackd.wait(10)
    return {
        "jack": {"driver": "dummy", "sample_rate": RATE, "period_frames": PERIOD},
        "threshold": THRESHOLD,
        "station": measured,
        "reference": reference,
        "station_p99_over_reference_p99": round(measured["p99_ms"] / reference["p99_ms"], 3),
        "goals": {"station_p99_ms": 3.0, "station_p99_over_reference_p99": 1.15, "xruns": 0},
        "not_measured": "16 voices sounding beside the probe (the probe's onset detection "
                        "needs silence before each press)",
        "jackd_realtime": arguments.realtime,
        "caveat": "a 2-core machine shared with other work"
        + ("" if arguments.realtime else "; jackd without real-time priority"),
    }
