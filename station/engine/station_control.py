"""The therapist's settings of a running engine: client, sound set, volume, session, reload."""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from station.config import LoadedStation, load_station
from station.config.client import MIN_SENSOR_SPAN, SensorCalibrationSection
from station.config.loading import save_sensor_calibration
from station.contract.events import EventType
from station.engine.activities import ActivityRunner
from station.engine.control_socket import ControlError
from station.engine.cues import CueRequest, CueRunner
from station.engine.session import Sessions
from station.errors import ConfigError
from station.inputs.sensors import SensorBoard
from station.inputs.switches import SwitchBoard
from station.sound.output import AudioOutput
from station.telemetry.eventlog import EventRecorder

log = logging.getLogger(__name__)

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


class StationControl:
    """Changes what the station plays and records, as commands and control buttons ask.

    Its callers are the control socket's thread, the control panel's worker and the engine's
    health loop; one lock serialises them. The press path never takes it. It implements
    `station.inputs.controls.EngineControl`.
    """

    def __init__(
        self,
        station: LoadedStation,
        output: AudioOutput,
        board: SwitchBoard,
        recorder: EventRecorder,
        sessions: Sessions,
        *,
        start_details: dict[str, Any],
        overrides: Sequence[str] = (),
        sensors: SensorBoard | None = None,
    ) -> None:
        self.station = station
        self.sensors = sensors
        self.output = output
        self.board = board
        self.recorder = recorder
        self.sessions = sessions
        # How the engine runs (audio backend, pin factory, ...): in every session_start.
        self.start_details = dict(start_details)
        self.overrides = list(overrides)
        self.client_name = station.config.station.client
        self.sound_set_name = station.config.station.sound_set
        self.volume = 1.0
        self.lock = threading.RLock()
        play_inputs = [item.name for item in station.config.inputs if item.role == "play"]
        self.cues = CueRunner(output, recorder, play_inputs, lights=board.cue_lights,
                              lit_inputs=[item.name for item in station.config.inputs
                                          if item.role == "play" and item.led_pin is not None])
        recorder.press_listener = self.cues.pressed
        self.activities = ActivityRunner(self.cues, lambda: self.station.activities,
                                         play_inputs)

    # -- client, sound set, volume --------------------------------------------------------
    def select_client(self, pseudonym: str) -> None:
        """Switch to another client's profile: ceiling and access settings, at once."""
        with self.lock:
            client = self.station.clients.get(pseudonym)
            if client is None:
                raise ControlError(
                    f"no client profile {pseudonym!r}; available: "
                    + ", ".join(sorted(self.station.clients))
                )
            self.output.set_client(client)
            self.board.apply(client.access)
            if self.sensors is not None:
                self.sensors.apply(self.station.sound_sets.get(
                    self.sound_set_name, self.station.sound_set), client)
            self.client_name = pseudonym
            self.recorder.set_context(client=pseudonym)
            self.recorder.record(EventType.CLIENT_CHANGED, detail={"client": pseudonym})
            log.info("client: %s", pseudonym)

    def select_sound_set(self, name: str) -> None:
        with self.lock:
            sound_set = self.station.sound_sets.get(name)
            if sound_set is None:
                raise ControlError(
                    f"no sound set {name!r}; available: "
                    + ", ".join(sorted(self.station.sound_sets))
                )
            self.output.set_sound_set(sound_set)
            self.sound_set_name = name
            if self.sensors is not None:
                self.sensors.apply(sound_set, self.station.clients[self.client_name])
            self.recorder.set_context(sound_set=name)
            self.recorder.record(EventType.SOUND_SET_CHANGED, detail={"sound_set": name})

    def step_sound_set(self, step: int) -> str:
        """The next (step 1) or previous (step -1) sound set, in name order, wrapping."""
        with self.lock:
            names = sorted(self.station.sound_sets)
            index = names.index(self.sound_set_name) if self.sound_set_name in names else 0
            name = names[(index + step) % len(names)]
            self.select_sound_set(name)
            return name

    def set_volume(self, level: float) -> float:
        """Volume as a fraction (0–1) of the client's ceiling; returns the level applied."""
        with self.lock:
            applied = min(1.0, max(0.0, float(level)))
            self.output.set_volume(applied)
            self.volume = applied
            self.recorder.record(EventType.VOLUME_CHANGED, detail={"volume": round(applied, 3)})
            return applied

    def step_volume(self, step: int) -> float:
        return self.set_volume(round(self.volume + step * VOLUME_STEP, 3))

    # -- sessions, observations, recordings ------------------------------------------------
    @property
    def session_running(self) -> bool:
        return self.sessions.running

    def start_session(self) -> str:
        with self.lock:
            return self.sessions.start(
                self.client_name, self.sound_set_name,
                {**self.start_details, "volume": round(self.volume, 3)},
            )

    def end_session(self) -> None:
        with self.lock:
            self.activities.stop()
            self.cues.cancel()
            self.sessions.end()

    def tag_observation(self, tag: str | None, note: str | None) -> None:
        with self.lock:
            # A prompt level given while a cue waits, or just after, is that opportunity's.
            self.sessions.observe(tag, note, self.cues.attached_cue())

    def cue(self, request: CueRequest) -> str:
        """Sound a cue and time the answer to it (station/engine/cues.py); its id."""
        with self.lock:
            if not self.sessions.running:
                raise ControlError("cue: no session is running; start one first")
            if self.activities.activity:
                raise ControlError(f"activity {self.activities.activity} is sounding its own "
                                   "cues; stop it first")
            return self.cues.start(request)

    def cue_button(self) -> None:
        """The therapist's cue button: a cue on every play input (5 s to answer), unless no
        session runs, an activity gives its own cues, or a cue already waits."""
        with self.lock:
            if not self.sessions.running or self.activities.activity or self.cues.cue:
                log.info("cue button: no cue now (no session, an activity, or a cue waiting)")
                return
            self.cues.start(CueRequest(targets=self.cues.play_inputs))

    def toggle_activity(self) -> None:
        """The therapist's activity button: stops the running activity, else starts the
        client's usual one (``client.activity`` in their profile)."""
        with self.lock:
            if self.activities.activity:
                self.activities.stop()
                return
            usual = self.station.clients[self.client_name].client.activity
            if not usual:
                raise ControlError(f"activity button: client {self.client_name} has no usual "
                                   "activity (client.activity in their profile)")
            self.start_activity(usual)

    def start_activity(self, name: str) -> None:
        """Start a run of cues (station/engine/activities.py)."""
        with self.lock:
            if not self.sessions.running:
                raise ControlError("start_activity: no session is running; start one first")
            self.activities.start(name)

    def stop_activity(self) -> None:
        if not self.activities.stop():
            raise ControlError("stop_activity: no activity is running")

    def cancel_cue(self) -> None:
        if not self.cues.cancel():
            raise ControlError("cancel_cue: no cue is waiting for an answer")

    # -- variable sensors ---------------------------------------------------------------------
    def calibrate_sensor(self, name: str, seconds: float) -> None:
        """Measure the current client's range on sensor `name` over `seconds` while they move
        through it; the result is saved to their profile and recorded (sensor_calibrated)."""
        with self.lock:
            sensors = self.sensors.sensors if self.sensors is not None else {}
            sensor = sensors.get(name)
            if sensor is None:
                raise ControlError(f"calibrate_sensor: no sensor {name!r}; sensors: "
                                   f"{', '.join(sensors) or 'none'}")
            if sensor.lost:
                raise ControlError(f"calibrate_sensor: {name} gives no readings; check its "
                                   "wiring, then try again")
            pseudonym = self.client_name

            def measured(low: float, high: float, readings: int) -> None:
                # Called on the sensor's reading thread: save on a thread of its own.
                threading.Thread(target=self._calibrated, name="sensor-calibration",
                                 args=(name, pseudonym, low, high, readings),
                                 daemon=True).start()

            sensor.calibrate(seconds, measured)
            log.info("calibrating %s for %s: %.0f s", name, pseudonym, seconds)

    def _calibrated(self, name: str, pseudonym: str, low: float, high: float,
                    readings: int) -> None:
        detail = {"floor": round(low, 3), "ceiling": round(high, 3), "readings": readings}
        if readings == 0 or high - low < MIN_SENSOR_SPAN:
            log.warning("calibration of %s: the range moved was too small (%s); nothing saved",
                        name, detail)
            self.recorder.record(EventType.SENSOR_CALIBRATED, name, "too_little_movement",
                                 detail=detail)
            return
        with self.lock:
            client = self.station.clients.get(pseudonym)
            path = self.station.client_paths.get(pseudonym)
            if client is None or path is None:
                return
            try:
                save_sensor_calibration(path, name, low, high)
            except (ConfigError, OSError) as error:
                log.error("calibration of %s not saved to %s: %s", name, path, error)
                self.recorder.record(EventType.SENSOR_CALIBRATED, name, "not_saved",
                                     detail=detail)
                return
            section = client.sensors.get(name) or SensorCalibrationSection()
            updated = client.model_copy(update={"sensors": {
                **client.sensors,
                name: section.model_copy(update={"floor": round(low, 3),
                                                 "ceiling": round(high, 3)})}})
            self.station = dataclasses.replace(
                self.station, clients={**self.station.clients, pseudonym: updated})
            if self.client_name == pseudonym and self.sensors is not None:
                self.sensors.apply(self.station.sound_sets[self.sound_set_name], updated)
            self.recorder.record(EventType.SENSOR_CALIBRATED, name, detail=detail)
            log.info("calibration of %s saved to %s: %s", name, path, detail)

    def start_recording(self, path: Path | None = None) -> Path:
        with self.lock:
            return self.sessions.start_recording(path)

    def stop_recording(self) -> Path:
        with self.lock:
            return self.sessions.stop_recording()

    def audio_rebuilt(self) -> None:
        """The audio device came back with a new server and sound engine."""
        # Tens of thousands of new pyo objects, to be kept out of garbage collection.
        freeze_long_lived_objects(collect=False)
        with self.lock:
            self.sessions.continue_recording()

    # -- configuration ----------------------------------------------------------------------
    def reload(self) -> list[str]:
        """Re-read the config files; on any problem keep every current setting.

        Returns the problems (empty when the new files were applied). Changed inputs or audio
        settings need a restart; sound sets and client profiles apply at once.
        """
        with self.lock:
            try:
                station = load_station(self.station.path, self.overrides)
                # A sample file that exists but cannot be decoded is found only by reading it.
                self.output.load_samples(station.sound_sets.values())
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
        recording = self.sessions.recording
        return {
            "client": self.client_name,
            "sound_set": self.sound_set_name,
            "volume": self.volume,
            "session": self.sessions.id,
            "audio_backend": self.output.audio.backend,
            "audio": self.output.state,
            "audio_problem": self.output.problem,
            "xruns": self.output.audio.xruns,
            "recording": "" if recording is None else recording.name,
            "cue": self.cues.cue,
            "activity": self.activities.activity,
        }
