"""The JACK side of the latency benchmark: a dummy-driver jackd and a listener on a port.

The listener finds each press's first sample above a threshold at the port it listens to, in
JACK frames, and notes where the server's xruns fell.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RATE = 48000
PERIOD = 64
THRESHOLD = 1e-5
# The onset threshold over a background: this many times its loudest sample.
BACKGROUND_MARGIN = 4.0
# An xrun this soon after a press is counted as the press path's.
NEAR_PRESS_FRAMES = RATE * 10 // 1000
# xruns this close together belong to one audible gap.
DROPOUT_FRAMES = RATE * 50 // 1000
QUIET_FRAMES = RATE * 30 // 1000  # silence this long before the next press

class PortListener:
    """A JACK client listening to one output port: onset frames after an armed press, quiet
    spells between presses, and the server's xruns."""

    def __init__(self, server: str) -> None:
        import jack

        self.client = jack.Client("latency-listener", servername=server, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.threshold = THRESHOLD
        self.xruns = 0
        # The JACK frame (the server's estimate) of each xrun and of each press.
        self.xrun_frames: list[int] = []
        self.xrun_times_ns: list[int] = []  # CLOCK_MONOTONIC, to tell who was running
        self.press_frames: list[int] = []
        self.peak = 0.0
        self.armed_at: int | None = None
        self.onset: int | None = None
        self.onset_time = 0.0
        self.heard = threading.Event()
        self.quiet = threading.Event()
        self._last_loud = 0
        self._cycle = (0, time.monotonic())
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delay_microseconds: float) -> None:
        self.xruns += 1
        self.xrun_frames.append(self.client.frame_time)
        self.xrun_times_ns.append(time.monotonic_ns())

    def _process(self, frames: int) -> None:
        start = self.client.last_frame_time
        self._cycle = (start, time.monotonic())
        # A copy: a cycle that ran late can find the next one already writing the buffer.
        buffer = memoryview(self.port.get_buffer()).cast("f")[:frames].tolist()
        self.peak = max(self.peak, max(buffer), -min(buffer))
        threshold = self.threshold
        first = next((i for i in range(frames) if abs(buffer[i]) > threshold), None)
        if first is not None:
            last = next(i for i in range(frames - 1, -1, -1) if abs(buffer[i]) > threshold)
            self._last_loud = start + last
            if self.armed_at is not None and self.onset is None:
                self.onset = start + first
                # On CLOCK_MONOTONIC, as the station's own times: when this cycle was
                # processed, plus the onset's place in it.
                self.onset_time = self._cycle[1] + first / RATE
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
        self.press_frames.append(self.armed_at)
        return self.armed_at

    def set_threshold_over_background(self, seconds: float) -> float:
        """Listen to the background for `seconds`; the onset threshold becomes
        BACKGROUND_MARGIN times its loudest sample (at least THRESHOLD). Returns the peak."""
        self.peak = 0.0
        threading.Event().wait(seconds)
        background = self.peak
        self.threshold = max(THRESHOLD, BACKGROUND_MARGIN * background)
        return background

    def dropouts(self, since: int) -> int:
        """Gaps a listener would hear from JACK frame `since` on: xruns closer together than
        DROPOUT_FRAMES are one gap (a stall of several periods is reported once per period)."""
        gaps = 0
        last = None
        for xrun in sorted(frame for frame in self.xrun_frames if frame >= since):
            if last is None or xrun - last > DROPOUT_FRAMES:
                gaps += 1
            last = xrun
        return gaps

    def xruns_near_presses(self, since: int) -> int:
        """How many xruns from JACK frame `since` on fell within NEAR_PRESS_FRAMES after a
        press."""
        presses = sorted(self.press_frames)
        near = 0
        for xrun in self.xrun_frames:
            if xrun < since:
                continue
            before = bisect.bisect_right(presses, xrun)
            if before and xrun - presses[before - 1] <= NEAR_PRESS_FRAMES:
                near += 1
        return near

    def wait_for_port(self, name: str, timeout: float) -> None:
        import jack

        waited = threading.Event()
        for _ in range(int(timeout * 10)):
            if self.client.get_ports(name):
                try:
                    self.client.connect(name, self.port)
                    return
                except jack.JackError:
                    pass  # registered, its client not activated yet: try again
            waited.wait(0.1)
        raise RuntimeError(f"JACK port {name} did not appear within {timeout} s")

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


# JACK's registry (/dev/shm/jack-shm-registry) holds eight servers, and frees the entry of a
# jackd that died without its SIGTERM only when a server of the same name starts again. Names
# of our own, reused, keep killed benchmark or test servers from filling it for good.
SERVER_NAME_SLOTS = 4


def start_dummy_jackd(purpose: str, realtime: bool = False) -> tuple[str, subprocess.Popen[bytes]]:
    """jackd with the dummy driver under the first name ``<purpose>-<n>`` no running server
    has; (the name, the process)."""
    problems = []
    for slot in range(SERVER_NAME_SLOTS):
        name = f"{purpose}-{slot}"
        if server_answers(name):
            continue  # another benchmark or test is using this one
        try:
            return name, start_jackd(name, realtime)
        except RuntimeError as error:
            problems.append(str(error))
    raise RuntimeError("; ".join(problems) or
                       f"every JACK server name {purpose}-0 … {purpose}-{SERVER_NAME_SLOTS - 1} "
                       "is in use by a running jackd")


def server_answers(name: str) -> bool:
    """Whether a JACK server called `name` is running and lets a client in."""
    import jack

    jack.set_error_function(lambda message: None)
    try:
        jack.Client("probe", servername=name, no_start_server=True).close()
    except jack.JackError:
        return False
    return True


def start_jackd(name: str, realtime: bool = False) -> subprocess.Popen[bytes]:
    """jackd with the dummy driver under `name`, once it answers; a RuntimeError with what
    jackd said if it does not within 10 s."""
    binary = shutil.which("jackd") or "/usr/bin/jackd"
    if not Path(binary).exists():
        raise RuntimeError("jackd is not installed: apt-get install jackd2")
    # With --realtime, jackd and its clients' audio threads (the engine's and the reference's)
    # run SCHED_FIFO, as on a Pi whose units allow LimitRTPRIO; needs the right to do so.
    priority = ["--realtime"] if realtime else ["--no-realtime"]
    # What jackd says goes to a file no one reads unless it fails to start (it keeps
    # writing there, a line per xrun, until it ends).
    with tempfile.TemporaryFile() as said:
        process = subprocess.Popen(
            [binary, "-n", name, *priority, "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
            stdout=said, stderr=subprocess.STDOUT,
        )
        waited = threading.Event()
        for _ in range(100):
            if server_answers(name):
                return process
            if process.poll() is not None:
                break
            waited.wait(0.1)
        process.kill()
        process.wait()
        said.seek(0)
        lines = [line for line in said.read().decode(errors="replace").splitlines()
                 if line.strip() and not line.startswith(("jackdmp ", "Copyright", "jackdmp comes",
                                                          "This is free", "under certain"))]
    ending = "; ".join(lines[-3:]) or "it printed nothing"
    raise RuntimeError(f"jackd with the dummy driver did not start as {name!r}: {ending}")


def idle_xruns(server: str, seconds: float) -> dict[str, Any]:
    """jackd's xruns with only a listener attached, for `seconds`: the machine's own."""
    listener = PortListener(server)
    try:
        since, before = listener.client.frame_time, listener.xruns
        threading.Event().wait(seconds)
        return {"seconds": round(seconds, 1), "xruns": listener.xruns - before,
                "dropouts": listener.dropouts(since)}
    finally:
        listener.close()


@contextlib.contextmanager
def engine_on_dummy_jack(station_file: Path, data_dir: Path, realtime: bool
                         ) -> Iterator[tuple[subprocess.Popen[str], PortListener]]:
    """jackd's dummy driver with `station engine --simulate` of `station_file` on it (its
    stdin a pipe for press and set lines) and a listener on the engine's first output port,
    once the engine answers on its control socket; all stopped on leaving."""
    from station.config import load_station
    from station.engine.control_socket import ControlError, send_command

    server, jackd = start_dummy_jackd("bench", realtime)
    try:
        station_id = load_station(station_file).config.station.id
        engine = subprocess.Popen(
            [sys.executable, "-m", "station", "engine", "--simulate", "--config",
             str(station_file)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True, env={**os.environ, "JACK_DEFAULT_SERVER": server},
        )
        listener = PortListener(server)
        try:
            listener.wait_for_port(f"sensory-station-{station_id}:output_1", 60)
            waited = threading.Event()
            for _ in range(100):  # the control socket opens once the engine is ready
                try:
                    send_command(data_dir, {"command": "status"}, timeout=0.5)
                    break
                except ControlError:
                    waited.wait(0.1)
            listener.set_threshold_over_background(0.5)
            yield engine, listener
        finally:
            listener.close()
            engine.terminate()
            engine.wait(20)
    finally:
        jackd.terminate()
        jackd.wait(10)


def sine_station_on_jack(folder: Path, change: Callable[[dict[str, Any], dict[str, Any]], None]
                         | None = None) -> tuple[Path, Path]:
    """The shipped configuration copied into `folder`, on JACK at the dummy server's rate and
    period, its start sound set on the sine without reverb (a note rings out in half a second,
    so the next measurement starts in silence soon); `change(station, sound_set)` edits both
    before they are written. (The station file, its data dir.)"""
    import tomllib

    import tomli_w

    from station.bench._config import copy_config, shipped_config

    copy = folder / "config"
    copy_config(shipped_config(), copy)
    station = copy / "station.toml"
    data = tomllib.loads(station.read_text())
    data["station"]["data_dir"] = str(folder / "data")
    data["audio"].update(backend="jack", buffer_size=PERIOD, sample_rate=RATE)
    sound_set_file = copy / "sound-sets" / f"{data['station']['sound_set']}.toml"
    sound_set = tomllib.loads(sound_set_file.read_text())
    sound_set["sound_set"].update(instrument="sine", reverb=0.0)
    if change is not None:
        change(data, sound_set)
    sound_set_file.write_text(tomli_w.dumps(sound_set))
    station.write_text(tomli_w.dumps(data))
    return station, folder / "data"
