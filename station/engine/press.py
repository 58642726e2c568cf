"""The press path: what every access-filter decision does, and nothing more."""

from __future__ import annotations

from typing import Protocol

from station.contract.events import EventType
from station.inputs.access import BOUNCE
from station.inputs.switches import Switch
from station.telemetry.eventlog import EventRecorder


class Playing(Protocol):
    """What the press path plays through: the station's output, or a bare sound engine."""

    def press(self, slot: int) -> bool: ...

    def release(self, slot: int) -> None: ...


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
