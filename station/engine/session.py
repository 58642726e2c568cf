"""The running session, the therapist's observations in it, and the session's recording."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from station.contract.events import EventType
from station.engine.control_socket import ControlError
from station.sound.output import LOST, AudioOutput
from station.telemetry.eventlog import EventRecorder

log = logging.getLogger(__name__)


def next_recording_part(path: Path) -> Path:
    """The file a recording continues in after the audio device was lost: `name-part2.wav`
    after `name.wav`, `name-part3.wav` after that."""
    stem, _, number = path.stem.rpartition("-part")
    if stem and number.isdigit():
        return path.with_name(f"{stem}-part{int(number) + 1}{path.suffix}")
    return path.with_name(f"{path.stem}-part2{path.suffix}")


class Sessions:
    """Starts and ends sessions, records observations in them, records what the station plays.

    Not thread-safe by itself: every caller holds the `StationControl` lock (commands, control
    buttons, the engine's health loop). The press path never comes here.
    """

    def __init__(self, recorder: EventRecorder, output: AudioOutput, recordings: Path) -> None:
        self._recorder = recorder
        self._output = output
        self._recordings = recordings  # the folder of recordings started by command
        self.id = ""  # the running session's id; empty between sessions
        self.recording: Path | None = None  # the WAV file being recorded, if any

    @property
    def running(self) -> bool:
        return bool(self.id)

    def start(self, client: str, sound_set: str, detail: dict[str, Any]) -> str:
        if self.running:
            raise ControlError(f"session {self.id} is running; end it first")
        self.id = self._recorder.start_session(client, sound_set, detail=detail)
        log.info("session %s started", self.id)
        return self.id

    def end(self) -> None:
        if not self.running:
            raise ControlError("no session is running")
        self._recorder.record(EventType.SESSION_END)
        log.info("session %s ended", self.id)
        self.id = ""
        self._recorder.set_context(session="")

    def observe(self, tag: str | None, note: str | None, cue: str = "") -> None:
        """Record a therapist's observation (a tag, a note or both; checked by the command's
        schema) in the running session; `cue`: the opportunity it belongs to, if any."""
        if not self.running:
            raise ControlError("tag_observation: no session is running; start one first")
        detail = {key: value for key, value in (("tag", tag), ("note", note), ("cue", cue))
                  if value}
        self._recorder.record(EventType.OBSERVATION, detail=detail)

    def start_recording(self, path: Path | None = None) -> Path:
        """Record what the station plays to `path`, or by command to a new WAV file in the
        recordings folder.

        A command's file name is chosen here (time and session id), never by the sender: a
        command must not be able to write anywhere else.
        """
        if self.recording is not None:
            raise ControlError(f"already recording to {self.recording.name}; stop it first")
        if path is None:
            if self._output.state == LOST:
                raise ControlError(
                    f"the audio is lost ({self._output.problem}): there is nothing to record "
                    "until it is back"
                )
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self._recordings / f"{stamp}-{self.id or 'no-session'}.wav"
        self._output.audio.start_recording(path)
        self.recording = path
        return path

    def stop_recording(self) -> Path:
        if self.recording is None:
            raise ControlError("nothing is being recorded")
        self._output.audio.stop_recording()
        path, self.recording = self.recording, None
        log.info("recording saved: %s", path)
        return path

    def continue_recording(self) -> None:
        """The audio device came back: the lost server closed the file it recorded to, so the
        recording goes on in a new part beside it and keeps what follows."""
        if self.recording is None:
            return
        part = next_recording_part(self.recording)
        self._output.audio.start_recording(part)
        log.warning("audio back: the recording %s ended at the loss and continues in %s",
                    self.recording.name, part.name)
        self.recording = part
