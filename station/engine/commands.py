"""The engine's command table: one handler per command schema, checked by the same schema.

A command arrives on the control socket as its JSON object plus ``command`` (its name). It is
refused with the same words as over MQTT (`station.contract.commands.refusal`), then its
handler runs. Adding a command is a schema file and one entry in `HANDLERS`; a test fails when
the two differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.contract.commands import refusal
from station.engine.control_socket import ControlError
from station.engine.cues import CueRequest
from station.engine.station_control import StationControl

COMMAND_KEY = "command"  # the control socket's own key: which command this is

# A handler makes the change; it returns a refusal reply when the change was not made, or None.
Handler = Callable[[StationControl, dict[str, Any]], dict[str, Any] | None]


def _status(control: StationControl, command: dict[str, Any]) -> None:
    return None


def _select_client(control: StationControl, command: dict[str, Any]) -> None:
    control.select_client(command["client"])


def _select_sound_set(control: StationControl, command: dict[str, Any]) -> None:
    control.select_sound_set(command["sound_set"])


def _set_volume(control: StationControl, command: dict[str, Any]) -> None:
    control.set_volume(command["volume"])


def _start_session(control: StationControl, command: dict[str, Any]) -> None:
    control.start_session()


def _end_session(control: StationControl, command: dict[str, Any]) -> None:
    control.end_session()


def _tag_observation(control: StationControl, command: dict[str, Any]) -> None:
    control.tag_observation(command.get("tag"), command.get("note"))


def _start_recording(control: StationControl, command: dict[str, Any]) -> None:
    control.start_recording()


def _stop_recording(control: StationControl, command: dict[str, Any]) -> None:
    control.stop_recording()


def _cue(control: StationControl, command: dict[str, Any]) -> None:
    control.cue(CueRequest(
        targets=tuple(command["targets"]),
        window_seconds=float(command.get("window_seconds", 5.0)),
        recues=int(command.get("recues", 0)),
        quieter_db=float(command.get("quieter_db", 3.0)),
        command_id=str(command.get("id", "")),
        show=str(command.get("show", "both")),
    ))


def _cancel_cue(control: StationControl, command: dict[str, Any]) -> None:
    control.cancel_cue()


def _start_activity(control: StationControl, command: dict[str, Any]) -> None:
    control.start_activity(command["activity"])


def _stop_activity(control: StationControl, command: dict[str, Any]) -> None:
    control.stop_activity()


def _calibrate_sensor(control: StationControl, command: dict[str, Any]) -> None:
    control.calibrate_sensor(command["input"], float(command.get("seconds", 5.0)))


def _reload(control: StationControl, command: dict[str, Any]) -> dict[str, Any] | None:
    problems = control.reload()
    if problems:
        return {"ok": False, "error": "reload refused", "problems": problems}
    return None


HANDLERS: dict[str, Handler] = {
    "status": _status,
    "select_client": _select_client,
    "select_sound_set": _select_sound_set,
    "set_volume": _set_volume,
    "start_session": _start_session,
    "end_session": _end_session,
    "tag_observation": _tag_observation,
    "start_recording": _start_recording,
    "stop_recording": _stop_recording,
    "reload": _reload,
    "cue": _cue,
    "cancel_cue": _cancel_cue,
    "start_activity": _start_activity,
    "stop_activity": _stop_activity,
    "calibrate_sensor": _calibrate_sensor,
}


def answer(control: StationControl, command: dict[str, Any]) -> dict[str, Any]:
    """The reply to one control-socket command (docs/architecture.md, "Control").

    ``{"ok": true, "state": ...}`` once the change is applied and recorded in the event log;
    raises ControlError naming what was wrong, with nothing changed.
    """
    name = command.get(COMMAND_KEY)
    document = {key: value for key, value in command.items() if key != COMMAND_KEY}
    problem = refusal(name, document)
    if problem is not None:
        raise ControlError(problem)
    handler = HANDLERS.get(str(name))
    if handler is None:
        raise ControlError(f"{name} is answered by the telemetry agent over MQTT, not by the "
                           "engine; publish it to the station's cmd/ topic")
    refused = handler(control, document)
    if refused is not None:
        return {**refused, "state": control.state()}
    # "ok" means the change is also recorded in the event log.
    if not control.recorder.flush():
        return {"ok": False, "error": "applied, but the event log did not record it in 5 s",
                "state": control.state()}
    return {"ok": True, "state": control.state()}
