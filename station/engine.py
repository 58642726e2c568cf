"""The engine process: switches in, sound out, events handed to the durable log.

Per press it does only the access-filter decision, the pyo call and a queue put; MQTT, JSON
and everything else slow lives in the telemetry agent's process (docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from station import sdnotify
from station.config import LoadedStation
from station.inputs.access import BOUNCE
from station.inputs.pins import make_pin_factory
from station.inputs.simulate import SimulatedSwitches, start_driver
from station.inputs.switches import Switch, SwitchBoard
from station.sound.engine import FADE_SECONDS, SoundEngine
from station.sound.server import AudioServer
from station.telemetry.eventlog import (
    PRESS,
    REJECTED,
    RELEASE,
    SESSION_END,
    EventRecorder,
)

log = logging.getLogger(__name__)

# pyo's audio callback takes the GIL every block; a short switch interval lets the GPIO
# callback thread get it back quickly (design.md, "Two processes").
SWITCH_INTERVAL_SECONDS = 0.0005
HEALTH_CHECK_SECONDS = 1.0


class Engine:
    """Owns the audio server, the sound engine, the switches and the event recorder."""

    def __init__(
        self, station: LoadedStation, *, simulate: bool = False, record: Path | None = None
    ) -> None:
        self.station = station
        self.simulate_requested = simulate
        self.record_path = record
        self.stopping = threading.Event()
        self.simulated: SimulatedSwitches | None = None

    # -- the press path ------------------------------------------------------------------
    def pressed(self, switch: Switch, at: float) -> None:
        self.sound.press(switch.slot)
        self.recorder.record(PRESS, switch.name, None, at)

    def released(self, switch: Switch, at: float, held_seconds: float) -> None:
        self.sound.release(switch.slot)
        self.recorder.record(RELEASE, switch.name, None, at, held_seconds * 1000.0)

    def rejected(self, switch: Switch, reason: str, at: float, amount: int = 1) -> None:
        # A bounce report stands for `amount` swallowed edges (station/inputs/access.py).
        detail = {"edges": amount} if reason == BOUNCE else None
        self.recorder.record(REJECTED, switch.name, reason, at, detail=detail)

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        config = self.station.config
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        factory, factory_name = make_pin_factory(config.gpio.pin_factory, self.simulate_requested)
        self.audio = AudioServer(config.audio, jack_name=f"sensory-station-{config.station.id}")
        self.audio.start()
        self.sound = SoundEngine(
            config.audio.channels,
            self.station.sound_set,
            self.station.client,
            sample_rate=config.audio.sample_rate,
        )
        self.recorder = EventRecorder(self.station.data_dir)
        if self.record_path is not None:
            self.audio.start_recording(self.record_path)
        # The session starts after the recording does, so the session's start time is the
        # recording's time zero (within one audio block).
        self.session = self.recorder.start_session(
            config.station.client,
            config.station.sound_set,
            detail={
                "audio_backend": self.audio.backend,
                "pin_factory": factory_name,
                "recording": self.record_path is not None,
                "pid": os.getpid(),
            },
        )
        self.board = SwitchBoard(
            config.inputs,
            self.station.client.access,
            self,
            factory,
            simulate=factory_name == "mock",
        )
        if factory_name == "mock":
            self.simulated = SimulatedSwitches(self.board, factory)
            start_driver(self.simulated, self.stopping, lambda text: log.info("%s", text))
        log.info(
            "ready: %d inputs, sound set %s, client %s, session %s",
            len(self.board.switches), config.station.sound_set, config.station.client,
            self.session,
        )
        sdnotify.ready(f"playing: {config.station.sound_set}")

    def healthy(self) -> bool:
        return self.audio.healthy and self.recorder.healthy

    def run(self) -> int:
        """Start, then watch health until `stopping` is set; exit status for the process."""
        self.start()
        period = sdnotify.watchdog_period() or HEALTH_CHECK_SECONDS
        status = 0
        while not self.stopping.wait(min(period, HEALTH_CHECK_SECONDS)):
            if not self.healthy():
                # Stop feeding the watchdog and exit non-zero: systemd or `station run`
                # restarts the engine.
                log.error(
                    "engine unhealthy (audio %s, event log %s); exiting to be restarted",
                    "ok" if self.audio.healthy else "stopped",
                    "ok" if self.recorder.healthy else "stopped",
                )
                status = 1
                break
            sdnotify.watchdog_ping()
        self.stop()
        return status

    def stop(self) -> None:
        sdnotify.stopping()
        self.board.close()
        self.sound.release_all()
        self.sound.fade_out()
        self.recorder.record(SESSION_END)
        # Let the fade-out reach the output (and the recording) before the server stops.
        threading.Event().wait(FADE_SECONDS + 0.1)
        if self.record_path is not None:
            self.audio.stop_recording()
        self.recorder.close()
        self.audio.stop()
        log.info("stopped")
