"""The engine process: switches in, sound out, events handed to the durable log.

Per press it does only the access-filter decision, the pyo call and a queue put; MQTT, JSON
and everything else slow lives in the telemetry agent's process (docs/architecture.md).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from station import sdnotify
from station.config import LoadedStation, load_station
from station.control import ControlError, ControlServer
from station.errors import ConfigError
from station.inputs.access import BOUNCE
from station.inputs.controls import ControlPanel
from station.inputs.pins import make_pin_factory
from station.inputs.simulate import SimulatedSwitches, start_driver
from station.inputs.switches import Switch, SwitchBoard
from station.inputs.usb import UsbSwitches
from station.sound.engine import FADE_SECONDS, SoundEngine
from station.sound.output import LOST, AudioOutput
from station.sound.server import AudioServer
from station.telemetry.eventlog import (
    CLIENT_CHANGED,
    MAX_NOTE_CHARACTERS,
    OBSERVATION,
    OBSERVATION_TAGS,
    PRESS,
    REJECTED,
    RELEASE,
    SESSION_END,
    SOUND_SET_CHANGED,
    STATION_STATUS,
    VOLUME_CHANGED,
    EventRecorder,
)

log = logging.getLogger(__name__)

# pyo's audio callback takes the GIL every block; a short switch interval lets the GPIO
# callback thread get it back quickly (design.md, "Two processes").
SWITCH_INTERVAL_SECONDS = 0.0005
HEALTH_CHECK_SECONDS = 1.0
VOLUME_STEP = 0.1  # one press of a volume button: a tenth of the way to the client's ceiling


def freeze_long_lived_objects(*, collect: bool) -> None:
    """Leave the objects that live as long as the engine out of garbage collection.

    pyo's audio callback holds the GIL for each block, and a full collection holds it for as
    long as it takes to walk every object: 12 to 15 ms for the engine's ~57,000 on this
    project's x86 test machine, several times the 2.7 ms of output buffering at 64 frames, so
    each one was a dropout. Once frozen, a collection walks only what was made since.
    `collect` first frees what is already garbage (itself one full collection: start-up only,
    before anything plays) and logs what a full collection costs before and after.
    """
    if not collect:
        gc.freeze()
        return
    started = time.perf_counter()
    gc.collect()
    before = time.perf_counter() - started
    gc.freeze()
    started = time.perf_counter()
    gc.collect()
    after = time.perf_counter() - started
    log.info(
        "garbage collection: %d long-lived objects frozen; a full collection took %.3f ms, "
        "now %.3f ms", gc.get_freeze_count(), before * 1000.0, after * 1000.0,
    )


def next_recording_part(path: Path) -> Path:
    """The file a recording continues in after the audio device was lost: `name-part2.wav`
    after `name.wav`, `name-part3.wav` after that."""
    stem, _, number = path.stem.rpartition("-part")
    if stem and number.isdigit():
        return path.with_name(f"{stem}-part{int(number) + 1}{path.suffix}")
    return path.with_name(f"{path.stem}-part2{path.suffix}")


class Engine:
    """Owns the audio server, the sound engine, the switches and the event recorder."""

    def __init__(
        self,
        station: LoadedStation,
        *,
        simulate: bool = False,
        record: Path | None = None,
        overrides: list[str] | None = None,
    ) -> None:
        self.station = station
        self.simulate_requested = simulate
        self.record_path = record
        self.recording: Path | None = None  # the WAV file being recorded, if any
        self.overrides = list(overrides or [])
        self.stopping = threading.Event()
        self.simulated: SimulatedSwitches | None = None
        self.client_name = station.config.station.client
        self.sound_set_name = station.config.station.sound_set
        self.volume = 1.0
        self.session = ""
        # Serialises control changes (commands, control buttons); the press path never takes it.
        self._control_lock = threading.RLock()
        # What presses and changes play through: the output, or (benchmarks) a bare engine.
        self.sound: AudioOutput | SoundEngine

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
        self.output = AudioOutput(
            config.audio,
            self.station.sound_set,
            self.station.client,
            self.station.sound_sets.values(),
            jack_name=f"sensory-station-{config.station.id}",
        )
        self.sound = self.output
        self.recorder = EventRecorder(self.station.data_dir)
        if self.record_path is not None:
            self.audio.start_recording(self.record_path)
            self.recording = self.record_path
        self._start_details = {
            "audio_backend": self.audio.backend,
            "pin_factory": factory_name,
            "recording": self.record_path is not None,
            "pid": os.getpid(),
        }
        # The session starts after the recording does, so the session's start time is the
        # recording's time zero (within one audio block).
        self.start_session()
        self.recorder.record(STATION_STATUS, detail={"engine": "started", **self._start_details})
        self.board = SwitchBoard(
            config.inputs,
            self.station.client.access,
            self,
            factory,
            simulate=factory_name == "mock",
        )
        self.controls = ControlPanel(
            config.inputs,
            self,
            factory,
            self.board.scheduler,
            status_led_pin=config.controls.status_led_pin,
            spare_pins=self.board.spare_pins,
        )
        self.usb = self._start_usb_switches()
        if factory_name == "mock":
            self.simulated = SimulatedSwitches(self.board, factory, self.controls.switches)
            start_driver(self.simulated, self.stopping, lambda text: log.info("%s", text))
        freeze_long_lived_objects(collect=True)
        self._frozen_audio = self.audio
        log.info(
            "ready: %d inputs, sound set %s, client %s, session %s",
            len(self.board.switches), config.station.sound_set, config.station.client,
            self.session,
        )
        self.control = ControlServer(self.station.data_dir, self.handle_command)
        sdnotify.ready(f"playing: {config.station.sound_set}")

    def _start_usb_switches(self) -> UsbSwitches | None:
        """Read the USB switch interfaces, if any input is one (simulation: none is)."""
        usb = [
            switch
            for switch in (*self.board.switches.values(), *self.controls.switches.values())
            if switch.device is None
        ]
        if not usb:
            return None
        try:
            return UsbSwitches(usb)
        except ImportError:
            log.error(
                "inputs %s are USB switches, which need python-evdev (Linux only); they are off",
                ", ".join(switch.name for switch in usb),
            )
            return None

    @property
    def audio(self) -> AudioServer:
        """The current audio server (a new one after the device was lost and came back)."""
        return self.output.audio

    def healthy(self) -> bool:
        # A lost audio device is not a reason to exit: AudioOutput retries it while inputs
        # are still counted.
        return self.recorder.healthy

    def run(self) -> int:
        """Start, then watch health until `stopping` is set; exit status for the process."""
        self.start()
        period = sdnotify.watchdog_period() or HEALTH_CHECK_SECONDS
        status = 0
        while not self.stopping.wait(min(period, HEALTH_CHECK_SECONDS)):
            self.output.check()
            if self.audio is not self._frozen_audio:
                self._audio_rebuilt()
            self.output.rest_unused()
            if not self.healthy():
                # Stop feeding the watchdog and exit non-zero: systemd or `station run`
                # restarts the engine.
                log.error("engine unhealthy (event log stopped); exiting to be restarted")
                self.controls.show_fault()
                status = 1
                break
            # A USB switch box that is not plugged in is a fault the therapist can fix.
            self.controls.show_fault(
                (self.usb is not None and bool(self.usb.missing)) or self.output.state == LOST
            )
            sdnotify.watchdog_ping()
        self.stop()
        return status

    def _audio_rebuilt(self) -> None:
        """The audio device came back with a new server and sound engine."""
        # Tens of thousands of new pyo objects, to be kept out of garbage collection.
        freeze_long_lived_objects(collect=False)
        self._frozen_audio = self.audio
        with self._control_lock:
            if self.recording is None:
                return
            # The lost server closed the file it recorded to; the session's recording goes on
            # in a new part beside it, so that a therapist's recording keeps what follows.
            part = next_recording_part(self.recording)
            self.audio.start_recording(part)
            log.warning("audio back: the recording %s ended at the loss and continues in %s",
                        self.recording.name, part.name)
            self.recording = part

    def stop(self) -> None:
        sdnotify.stopping()
        self.control.close()
        if self.usb is not None:
            self.usb.close()
        self.controls.close()
        self.board.close()
        self.sound.release_all()
        self.sound.fade_out()
        if self.session_running:
            self.end_session()
        self.recorder.record(STATION_STATUS, detail={"engine": "stopped"})
        # Let the fade-out reach the output (and the recording) before the server stops.
        threading.Event().wait(FADE_SECONDS + 0.1)
        if self.recording is not None:
            self.audio.stop_recording()
        self.recorder.close()
        self.audio.stop()
        log.info("stopped")

    # -- control: commands, therapist buttons ---------------------------------------------
    @property
    def session_running(self) -> bool:
        return bool(self.session)

    def _context_changed(self) -> None:
        self.recorder.set_context(self.session, self.client_name, self.sound_set_name)

    def select_client(self, pseudonym: str) -> None:
        """Switch to another client's profile: ceiling and access settings, at once."""
        with self._control_lock:
            client = self.station.clients.get(pseudonym)
            if client is None:
                raise ControlError(
                    f"no client profile {pseudonym!r}; available: "
                    + ", ".join(sorted(self.station.clients))
                )
            self.sound.set_client(client)
            self.board.apply(client.access)
            self.client_name = pseudonym
            self._context_changed()
            self.recorder.record(CLIENT_CHANGED, detail={"client": pseudonym})
            log.info("client: %s", pseudonym)

    def select_sound_set(self, name: str) -> None:
        with self._control_lock:
            sound_set = self.station.sound_sets.get(name)
            if sound_set is None:
                raise ControlError(
                    f"no sound set {name!r}; available: "
                    + ", ".join(sorted(self.station.sound_sets))
                )
            self.sound.set_sound_set(sound_set)
            self.sound_set_name = name
            self._context_changed()
            self.recorder.record(SOUND_SET_CHANGED, detail={"sound_set": name})

    def step_sound_set(self, step: int) -> str:
        """The next (step 1) or previous (step -1) sound set, in name order, wrapping."""
        with self._control_lock:
            names = sorted(self.station.sound_sets)
            index = names.index(self.sound_set_name) if self.sound_set_name in names else 0
            name = names[(index + step) % len(names)]
            self.select_sound_set(name)
            return name

    def set_volume(self, level: float) -> float:
        """Volume as a fraction (0–1) of the client's ceiling; returns the level applied."""
        with self._control_lock:
            applied = min(1.0, max(0.0, float(level)))
            self.sound.set_volume(applied)
            self.volume = applied
            self.recorder.record(VOLUME_CHANGED, detail={"volume": round(applied, 3)})
            return applied

    def step_volume(self, step: int) -> float:
        return self.set_volume(round(self.volume + step * VOLUME_STEP, 3))

    def start_session(self) -> str:
        with self._control_lock:
            if self.session_running:
                raise ControlError(f"session {self.session} is running; end it first")
            self.session = self.recorder.start_session(
                self.client_name, self.sound_set_name,
                detail={**self._start_details, "volume": round(self.volume, 3)},
            )
            log.info("session %s started", self.session)
            return self.session

    def end_session(self) -> None:
        with self._control_lock:
            if not self.session_running:
                raise ControlError("no session is running")
            self.recorder.record(SESSION_END)
            log.info("session %s ended", self.session)
            self.session = ""
            self._context_changed()

    def tag_observation(self, tag: str | None, note: str | None) -> None:
        """Record a therapist's observation (a tag, a note or both) in the running session."""
        if tag is None and note is None:
            raise ControlError("tag_observation: give a 'tag' or a 'note'")
        if tag is not None and tag not in OBSERVATION_TAGS:
            raise ControlError(
                f"tag_observation: no tag {tag!r}; tags: {', '.join(OBSERVATION_TAGS)}"
            )
        if note is not None and not 0 < len(note) <= MAX_NOTE_CHARACTERS:
            raise ControlError(
                f"tag_observation: a note has 1 to {MAX_NOTE_CHARACTERS} characters, "
                f"not {len(note)}"
            )
        with self._control_lock:
            if not self.session_running:
                raise ControlError("tag_observation: no session is running; start one first")
            detail = {key: value for key, value in (("tag", tag), ("note", note)) if value}
            self.recorder.record(OBSERVATION, detail=detail)

    def reload(self) -> list[str]:
        """Re-read the config files; on any problem keep every current setting.

        Returns the problems (empty when the new files were applied). Changed inputs or audio
        settings need a restart; sound sets and client profiles apply at once.
        """
        with self._control_lock:
            try:
                station = load_station(self.station.path, self.overrides)
                # A sample file that exists but cannot be decoded is found only by reading it.
                self.sound.load_samples(station.sound_sets.values())
            except ConfigError as error:
                log.error("reload refused, keeping the running settings:\n%s", error)
                return error.problems
            self.station = station
            client = self.client_name if self.client_name in station.clients else (
                station.config.station.client)
            sound_set = self.sound_set_name if self.sound_set_name in station.sound_sets else (
                station.config.station.sound_set)
            self.select_client(client)
            self.select_sound_set(sound_set)
            freeze_long_lived_objects(collect=False)
            log.info("configuration reloaded from %s", station.path)
            return []

    def state(self) -> dict[str, object]:
        return {
            "client": self.client_name,
            "sound_set": self.sound_set_name,
            "volume": self.volume,
            "session": self.session,
            "audio_backend": self.audio.backend,
            "audio": self.output.state,
            "audio_problem": self.output.problem,
            "xruns": self.audio.xruns,
            "recording": "" if self.recording is None else self.recording.name,
        }

    def start_recording(self) -> Path:
        """Record what the station plays to a new WAV file in `<data_dir>/recordings/`.

        The name is chosen here (time and session id), never by the sender: a command must not
        be able to write anywhere else.
        """
        with self._control_lock:
            if self.recording is not None:
                raise ControlError(f"already recording to {self.recording.name}; stop it first")
            if self.output.state == LOST:
                raise ControlError(
                    f"the audio is lost ({self.output.problem}): there is nothing to record "
                    "until it is back"
                )
            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = f"{stamp}-{self.session or 'no-session'}.wav"
            path = self.station.data_dir / "recordings" / name
            self.audio.start_recording(path)
            self.recording = path
            return path

    def stop_recording(self) -> Path:
        with self._control_lock:
            if self.recording is None:
                raise ControlError("not recording")
            self.audio.stop_recording()
            path, self.recording = self.recording, None
            log.info("recording saved: %s", path)
            return path

    def handle_command(self, command: dict[str, Any]) -> dict[str, Any]:
        """One control command (see docs/architecture.md, "Control"); the reply to send."""
        name = command.get("command")

        def argument(key: str, kind: type) -> Any:
            value = command.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ControlError(f"{name}: '{key}' must be a {kind.__name__}")
            return value

        if name == "select_client":
            self.select_client(argument("client", str))
        elif name == "select_sound_set":
            self.select_sound_set(argument("sound_set", str))
        elif name == "set_volume":
            volume = command.get("volume")
            if not isinstance(volume, int | float) or isinstance(volume, bool) or not (
                0.0 <= volume <= 1.0
            ):
                raise ControlError("set_volume: 'volume' must be a number from 0 to 1")
            self.set_volume(volume)
        elif name == "start_recording":
            self.start_recording()
        elif name == "stop_recording":
            self.stop_recording()
        elif name == "start_session":
            self.start_session()
        elif name == "tag_observation":
            tag, note = command.get("tag"), command.get("note")
            if not isinstance(tag, str | None) or not isinstance(note, str | None):
                raise ControlError("tag_observation: 'tag' and 'note' must be strings")
            self.tag_observation(tag, note)
        elif name == "end_session":
            self.end_session()
        elif name == "reload":
            problems = self.reload()
            if problems:
                return {"ok": False, "error": "reload refused", "problems": problems,
                        "state": self.state()}
        elif name != "status":
            raise ControlError(
                f"unknown command {name!r}; commands: select_client, select_sound_set, "
                "set_volume, start_session, end_session, tag_observation, start_recording, "
                "stop_recording, reload, status"
            )
        # "ok" means the change is also recorded in the event log.
        if not self.recorder.flush():
            return {"ok": False, "error": "applied, but the event log did not record it in 5 s",
                    "state": self.state()}
        return {"ok": True, "state": self.state()}
