"""The press path: what every access-filter decision does, and nothing more."""

from __future__ import annotations

from typing import Protocol

from station.contract.events import EventType
from station.inputs.access import BOUNCE
from station.inputs.sensors import Sensor
from station.inputs.switches import Switch
from station.telemetry.eventlog import EventRecorder


class Playing(Protocol):
    """What the press path plays through: the station's output, or a bare sound engine."""

    def press(self, slot: int) -> bool: ...

    def release(self, slot: int) -> None: ...


class SensorPlaying(Playing, Protocol):
    """What a variable sensor plays through besides presses: zones and expression."""

    def zone(self, slot: int, zone: int) -> bool: ...

    def express(self, slot: int, value: float, glide_seconds: float) -> None: ...


class PressPath:
    """Sounds each accepted press and release, then queues its event; queues rejections.

    The switches' listener. Called on the pin callback threads, the USB reader thread and the
    deadline scheduler's thread; it keeps no state, so it needs no lock. Per press it is one
    pyo call and one queue put (design.md, latency budget).
    """

    __slots__ = ("_play", "_record", "_stop")

    def __init__(self, sound: Playing, events: EventRecorder) -> None:
        # Bound once: the press path pays no attribute look-ups for them.
        self._play = sound.press
        self._stop = sound.release
        self._record = events.record

    def pressed(self, switch: Switch, at: float) -> None:
        self._play(switch.slot)
        self._record(EventType.PRESS, switch.name, None, at)

    def released(self, switch: Switch, at: float, held_seconds: float) -> None:
        self._stop(switch.slot)
        self._record(EventType.RELEASE, switch.name, None, at, held_seconds * 1000.0)

    def rejected(self, switch: Switch, reason: str, at: float, amount: int = 1) -> None:
        # A bounce report stands for `amount` swallowed edges (station/inputs/access.py).
        detail = {"edges": amount} if reason == BOUNCE else None
        self._record(EventType.REJECTED, switch.name, reason, at, detail=detail)


class SensorPath:
    """What a variable sensor's readings do: zone notes, expression, and their events.

    The sensors' listener (station/inputs/sensors.py), on their reading threads. A zone entry
    and an expression note's start and end are interactions, recorded like presses; the
    expression in between only moves the sound (a reading rate of events would flood the log).
    """

    __slots__ = ("_record", "_sound")

    def __init__(self, sound: SensorPlaying, events: EventRecorder) -> None:
        self._sound = sound
        self._record = events.record

    def zone(self, sensor: Sensor, zone: int, at: float, value: float) -> None:
        self._sound.zone(sensor.slot, zone)
        zones = sensor.zones
        self._record(EventType.ZONE, sensor.name, None, at,
                     detail={"zone": zone + 1, "zones": zones, "value": round(value, 3)})

    def zone_left(self, sensor: Sensor, at: float) -> None:
        # The movement event recorded with this reading says the hand left; the note rings
        # out.
        self._sound.release(sensor.slot)

    def expression_started(self, sensor: Sensor, at: float, value: float) -> None:
        sound = self._sound
        sound.express(sensor.slot, value, 0.0)
        sound.press(sensor.slot)
        self._record(EventType.PRESS, sensor.name, None, at)

    def expression(self, sensor: Sensor, value: float) -> None:
        self._sound.express(sensor.slot, value, sensor.interval)

    def expression_ended(self, sensor: Sensor, at: float, held_seconds: float) -> None:
        self._sound.release(sensor.slot)
        self._record(EventType.RELEASE, sensor.name, None, at, held_seconds * 1000.0)

    def movement(self, sensor: Sensor, at: float, peak: float, seconds: float) -> None:
        self._record(EventType.MOVEMENT, sensor.name, None, at, seconds * 1000.0,
                     detail={"peak": round(peak, 3)})

    def lost(self, sensor: Sensor, at: float, reason: str) -> None:
        self._record(EventType.SENSOR_LOST, sensor.name, reason, at)

    def back(self, sensor: Sensor, at: float) -> None:
        self._record(EventType.SENSOR_BACK, sensor.name, None, at)
