"""The engine process's life: start its parts, watch their health, stop them in order."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from station import sdnotify
from station.contract.events import EventType
from station.engine import commands
from station.engine.control_socket import ControlServer
from station.engine.station_control import StationControl, freeze_long_lived_objects
from station.inputs.controls import ControlPanel
from station.inputs.simulate import SimulatedSwitches, start_driver
from station.inputs.switches import SwitchBoard
from station.inputs.usb import UsbSwitches
from station.sound.engine import FADE_SECONDS
from station.sound.output import LOST, AudioOutput
from station.sound.server import AudioServer
from station.telemetry.eventlog import EventRecorder

log = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 1.0


class EngineProcess:
    """Runs the parts `station.engine.build.build_engine` made: the audio output, the event
    recorder, the play switches, the therapist controls, the USB switches and the simulation.

    `run` is the process's main thread: the health loop. Commands arrive on the control
    socket's thread and changes go through `control`, which serialises them.
    """

    def __init__(
        self,
        *,
        output: AudioOutput,
        recorder: EventRecorder,
        board: SwitchBoard,
        controls: ControlPanel,
        control: StationControl,
        usb: UsbSwitches | None = None,
        simulated: SimulatedSwitches | None = None,
        record: Path | None = None,
    ) -> None:
        self.output = output
        self.recorder = recorder
        self.board = board
        self.controls = controls
        self.control = control
        self.usb = usb
        self.simulated = simulated
        self.record_path = record  # recorded from the start (`--record`), if given
        self.stopping = threading.Event()
        self.socket: ControlServer | None = None

    @property
    def audio(self) -> AudioServer:
        """The current audio server (a new one after the device was lost and came back)."""
        return self.output.audio

    def start(self) -> None:
        control = self.control
        if self.record_path is not None:
            control.start_recording(self.record_path)
        # The session starts after the recording does, so the session's start time is the
        # recording's time zero (within one audio block).
        control.start_session()
        self.recorder.record(
            EventType.STATION_STATUS,
            detail={"engine": "started", **control.start_details},
        )
        if self.simulated is not None:
            start_driver(self.simulated, self.stopping, lambda text: log.info("%s", text))
        freeze_long_lived_objects(collect=True)
        self._frozen_audio = self.audio
        log.info(
            "ready: %d inputs, sound set %s, client %s, session %s",
            len(self.board.switches), control.sound_set_name, control.client_name,
            control.sessions.id,
        )
        self.socket = ControlServer(
            control.station.data_dir, lambda command: commands.answer(control, command)
        )
        sdnotify.ready(f"playing: {control.sound_set_name}")

    def healthy(self) -> bool:
        # A lost audio device is not a reason to exit: AudioOutput retries it while inputs
        # are still counted.
        return self.recorder.healthy

    def run(self) -> int:
        """Start, then watch health until `stopping` is set; exit status for the process."""
        self.start()
        period = sdnotify.watchdog_period() or HEALTH_CHECK_SECONDS
        status = 0
        audio_state = self.output.state
        while not self.stopping.wait(min(period, HEALTH_CHECK_SECONDS)):
            self.output.check()
            if self.output.state != audio_state:
                audio_state = self.output.state
                self._record_audio_state()
            if self.audio is not self._frozen_audio:
                self._frozen_audio = self.audio
                self.control.audio_rebuilt()
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

    def _record_audio_state(self) -> None:
        # An event, so that the agent (which sees only the log) can put it on the retained
        # health topic; recorded from this health loop, never from the press path.
        lost = self.output.state == LOST
        self.recorder.record(
            EventType.STATION_STATUS,
            detail={"audio": self.output.state, "audio_problem": self.output.problem}
            if lost else {"audio": self.output.state},
        )

    def stop(self) -> None:
        sdnotify.stopping()
        if self.socket is not None:
            self.socket.close()
        if self.usb is not None:
            self.usb.close()
        self.controls.close()
        if self.control.sensors is not None:
            self.control.sensors.close()
        self.board.close()
        self.output.release_all()
        self.output.fade_out()
        if self.control.session_running:
            self.control.end_session()
        self.recorder.record(EventType.STATION_STATUS, detail={"engine": "stopped"})
        # Let the fade-out reach the output (and the recording) before the server stops.
        threading.Event().wait(FADE_SECONDS + 0.1)
        if self.control.sessions.recording is not None:
            self.audio.stop_recording()
        self.recorder.close()
        self.audio.stop()
        log.info("stopped")
