"""Every kind of event the station records and publishes (docs/mqtt.md, "events").

`EventType` is the one list: the event log stores its values, the agent and the aggregates
compare against them, and a test holds `schemas/event.json` and docs/mqtt.md to it.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """The `type` of an event, as stored in the event log and sent on ``<base>/events``."""

    SESSION_START = "session_start"
    SESSION_END = "session_end"
    PRESS = "press"
    RELEASE = "release"
    REJECTED = "rejected"
    CLIENT_CHANGED = "client_changed"
    SOUND_SET_CHANGED = "sound_set_changed"
    VOLUME_CHANGED = "volume_changed"
    OBSERVATION = "observation"  # a therapist's tag or note (detail: tag, note)
    STATION_STATUS = "station_status"  # the engine started (detail: how) or stopped cleanly
    CUE = "cue"  # a call sounded, opening an opportunity to answer (station/engine/cues.py)
    RESPONSE = "response"  # the first press on a target after the call, within the window
    NO_RESPONSE = "no_response"  # the window ended without one
    ANTICIPATION = "anticipation"  # a press while the call still sounded
    OFF_TARGET = "off_target"  # a press on another input after the call
    # Variable sensors (station/inputs/sensors.py):
    ZONE = "zone"  # the hand entered a zone, playing its note (detail: zone, zones, value)
    MOVEMENT = "movement"  # one movement out of the dead zone and back (detail: low, high)
    SENSOR_LOST = "sensor_lost"  # no readings (reason: no_echo); reported once
    SENSOR_BACK = "sensor_back"  # readings again after a loss
    SENSOR_CALIBRATED = "sensor_calibrated"  # a calibration run saved (detail: floor, ceiling)
