"""The pyo audio server: backend choice, a real-time-paced null backend, recording.

Backends, in the order ``auto`` tries them:

* ``jack``: when a JACK server is running (the low-latency path on a Pi);
* ``portaudio``: when PortAudio has a default output device (or the named one);
* ``null``: pyo's manual server advanced by a thread at real-time pace, so the station runs,
  records and is tested on a machine with no sound card.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyo

from station.config import AudioSection
from station.errors import AudioError

log = logging.getLogger(__name__)

BACKENDS = ("jack", "portaudio", "null")

# A server whose sample counter has not moved for this long has lost its device. A busy
# machine makes blocks late by a few periods (an xrun, milliseconds), never by seconds: two
# seconds are hundreds of blocks in a row (a block is 1.3 to 11 ms), so this does not trip on
# load, and with the once-a-second health check a stall is noticed within three seconds.
STALL_SECONDS = 2.0


def jack_server_running() -> bool:
    """True when a JACK server answers (checked with a throwaway client, never started)."""
    try:
        import jack
    except (ImportError, OSError):  # OSError: libjack itself is not installed
        return False
    # libjack prints its failure to connect on stderr; an absent server is an answer here.
    jack.set_error_function(lambda message: None)
    jack.set_info_function(lambda message: None)
    try:
        client = jack.Client("sensory-station-probe", no_start_server=True)
    except jack.JackError:
        return False
    client.close()
    return True


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Hide what C libraries print on fd 2 while probing (ALSA lists every device it
    cannot open); the probe's result is logged instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def portaudio_output(device_name: str) -> int | None:
    """PortAudio's index of the named output device (or the default one), None if absent."""
    with _quiet_stderr():
        return _portaudio_output(device_name)


def _portaudio_output(device_name: str) -> int | None:
    if not device_name:
        default = int(pyo.pa_get_default_output())
        return default if default >= 0 else None
    names, indexes = pyo.pa_get_output_devices()
    for name, index in zip(names, indexes, strict=False):
        if device_name.lower() in str(name).lower():
            return int(index)
    return None


# pip builds pyo from source where it has no wheel (a Pi) and turns JACK on only when asked
# (scripts/install-pi.sh asks); such a pyo cannot play on a running JACK server.
NO_JACK_IN_PYO = ("this pyo was built without JACK support, so it cannot play on the JACK "
                  "server; rebuild it with JACK (scripts/install-pi.sh does)")


def choose_backend(audio: AudioSection, pyo_has_jack: bool | None = None) -> str:
    """The backend to use for `audio.backend` (``auto`` resolves to the first that works).

    `pyo_has_jack`: whether the pyo in use was built with JACK (default: ask pyo).
    """
    if pyo_has_jack is None:
        pyo_has_jack = bool(pyo.withJack())
    if audio.backend == "jack" and not pyo_has_jack:
        raise AudioError(f"audio.backend = \"jack\": {NO_JACK_IN_PYO}, or set audio.backend "
                         "to \"auto\" to play through PortAudio")
    if audio.backend != "auto":
        return audio.backend
    if jack_server_running():
        if pyo_has_jack:
            return "jack"
        log.warning("audio: a JACK server is running, but %s; trying PortAudio instead",
                    NO_JACK_IN_PYO)
    if portaudio_output(audio.output_device) is not None:
        return "portaudio"
    return "null"


class AudioServer:
    """One booted pyo server on the chosen backend.

    Build instruments only after `start()`: pyo objects need a booted server.
    """

    def __init__(self, audio: AudioSection, *, jack_name: str = "sensory-station") -> None:
        self.audio = audio
        self.backend = choose_backend(audio)
        self._jack_name = jack_name
        self._pacer: threading.Thread | None = None
        self._running = threading.Event()
        self.blocks_processed = 0
        self.server: Any = None
        # Audio blocks that missed their deadline: JACK's own count, or on the null backend
        # blocks rendered more than a block period late. None: the backend cannot tell.
        self.xruns: int | None = None
        self._xrun_monitor: Any = None
        self.recording = False  # a WAV file is being recorded
        # Claims the teardown, so that a second stop() (the engine stopping while a lost
        # server is still being torn down) returns at once instead of tearing down twice.
        self._stopping = threading.Lock()
        # The stall watch: pyo's sample counter as last read, and when it last moved.
        self._samples_seen = -1
        self._samples_moved_at = 0.0

    def start(self) -> None:
        """Boot and start the server; raises AudioError naming the backend if it cannot."""
        audio = self.audio
        kind = {"jack": "jack", "portaudio": "portaudio", "null": "manual"}[self.backend]
        options: dict[str, Any] = {}
        if kind == "jack":
            options["jackname"] = self._jack_name
            # libjack would otherwise start a jackd of its own when none runs (at every
            # retry after the audio was lost): on a Pi the jackd unit owns the sound card.
            os.environ["JACK_NO_START_SERVER"] = "1"
        server = pyo.Server(
            sr=audio.sample_rate,
            nchnls=audio.channels,
            buffersize=audio.buffer_size,
            duplex=0,
            audio=kind,
            **options,
        )
        server.deactivateMidi()
        if kind == "portaudio":
            device = portaudio_output(audio.output_device)
            if device is None:
                raise AudioError(
                    f"audio.output_device: no PortAudio output matches {audio.output_device!r}; "
                    "set audio.backend = \"null\" to run silently"
                )
            server.setOutputDevice(device)
        server.boot()
        if not server.getIsBooted():
            raise AudioError(
                f"audio backend {self.backend!r} did not start (see the lines above); "
                "set audio.backend to another of: " + ", ".join(BACKENDS)
            )
        server.start()
        self.server = server
        self._samples_moved_at = time.monotonic()
        self._running.set()
        if kind == "jack":
            self._watch_jack_xruns()
        if kind == "manual":
            self.xruns = 0
            self._pacer = threading.Thread(
                target=self._pace_null_backend, args=(server,), name="null-audio", daemon=True
            )
            self._pacer.start()
        log.info(
            "audio: %s backend, %d Hz, %d-frame blocks, %d channels",
            self.backend, audio.sample_rate, audio.buffer_size, audio.channels,
        )

    def _watch_jack_xruns(self) -> None:
        """Count JACK's xruns with a port-less client of our own (pyo does not report them)."""
        try:
            import jack
        except (ImportError, OSError) as error:
            log.warning("audio: cannot count JACK xruns (%s); status shows none", error)
            return
        try:
            monitor = jack.Client(f"{self._jack_name}-xruns", no_start_server=True)
        except jack.JackError as error:
            log.warning("audio: cannot count JACK xruns (%s); status shows none", error)
            return
        self.xruns = 0

        def count(delay_microseconds: float) -> None:
            self.xruns = (self.xruns or 0) + 1

        monitor.set_xrun_callback(count)
        monitor.activate()
        self._xrun_monitor = monitor

    def _pace_null_backend(self, server: Any) -> None:
        """Advance the manual server one block per block period of wall-clock time."""
        period = self.audio.buffer_size / self.audio.sample_rate
        next_block = time.monotonic()
        late = False
        while self._running.is_set():
            server.process()
            self.blocks_processed += 1
            next_block += period
            delay = next_block - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -period and not late:
                # More than a period late: a real device would have played a gap. The blocks
                # that catch up after it belong to the same gap.
                self.xruns = (self.xruns or 0) + 1
            late = delay < 0
            if delay < -0.5:
                # Far behind (the machine was suspended or starved): catch up by skipping,
                # never by rendering a burst of blocks faster than real time.
                next_block = time.monotonic()

    @property
    def healthy(self) -> bool:
        """False once the server stopped or the null backend's pacing thread died.

        What the server says of itself: a PortAudio device that disappeared, or a frozen JACK
        server, leaves pyo's server started but no longer asked for audio; `problem()` also
        notices that.
        """
        if self.server is None or not self._running.is_set():
            return False
        if self._pacer is not None:
            return self._pacer.is_alive()
        return bool(self.server.getIsStarted())

    def samples(self) -> int:
        """The audio clock: samples rendered so far (pyo's counter; 0 before start). A sound
        started now is first heard in the block that begins here."""
        server = self.server
        return int(server.getCurrentTimeInSamples()) if server is not None else 0

    def problem(self) -> str | None:
        """Why the server is not playing, None while it is; for a health check about once a
        second (it reads one counter of pyo's, never waits on the audio thread).

        jack and portaudio: also a stall, no audio block asked for during `STALL_SECONDS`
        of wall-clock time (monotonic) between calls. The null backend is paced by our own
        thread, which `healthy` watches.
        """
        server = self.server
        if server is None or not self.healthy:
            if self._pacer is not None and server is not None and self._running.is_set():
                return "stopped: the null backend's pacing thread died"
            return f"stopped: the {self.backend} server shut down"
        if self._pacer is not None:
            return None
        samples = int(server.getCurrentTimeInSamples())
        now = time.monotonic()
        if samples != self._samples_seen:
            self._samples_seen = samples
            self._samples_moved_at = now
            return None
        stalled = now - self._samples_moved_at
        if stalled < STALL_SECONDS:
            return None
        return f"stalled: no audio block for {stalled:.1f} s"

    def start_recording(self, path: Path) -> None:
        """Record everything the station plays to a 24-bit WAV file at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.server.recordOptions(dur=-1, filename=str(path), fileformat=0, sampletype=1)
        self.server.recstart()
        self.recording = True
        log.info("recording to %s", path)

    def stop_recording(self) -> None:
        if self.server is not None and self.recording:
            self.server.recstop()
        self.recording = False

    def stop(self) -> None:
        """Stop and shut the server down; a second call returns at once.

        Can block for as long as the device is frozen: libjack's deactivate and close wait
        for an answer from the JACK server with no time-out (a SIGSTOPped jackd keeps them
        waiting until it continues or dies). AudioOutput calls it on a thread of its own.
        """
        with self._stopping:
            server, self.server = self.server, None
        if server is None:
            return
        if self.recording:
            # Closes the file with its header filled in; pyo's shutdown after a lost device
            # leaves a WAV whose header says it holds nothing. First: what follows may block.
            server.recstop()
            self.recording = False
        self._running.clear()
        monitor, self._xrun_monitor = self._xrun_monitor, None
        if monitor is not None:
            monitor.deactivate()
            monitor.close()
        if self._pacer is not None:
            self._pacer.join(timeout=2)
        server.stop()
        server.shutdown()
