"""The access filter: decides, per input, which edges are intended presses.

Decisions use the monotonic time taken at the edge (seconds), never the time a callback ran.
This first version knows two settings of the client profile:

* debounce (``access.debounce_ms``): the first edge acts at once; edges in the window after it
  are contact bounce and ignored (no added latency, unlike gpiozero's ``bounce_time``);
* repeat lockout (``access.lockout_ms``): a press this soon after the last accepted one is
  rejected, and so is its release.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from station.config import AccessSection


class Decision(Enum):
    """What the filter made of one edge."""

    PRESS = "press"
    RELEASE = "release"
    BOUNCE = "bounce"  # inside the debounce window: ignored, not an event
    LOCKOUT = "lockout"  # a press rejected: too soon after the last accepted one
    IGNORED = "ignored"  # no change of state (a release of a rejected press, a repeat)


@dataclass
class AccessSettings:
    """The filter's settings in seconds (the profile gives milliseconds)."""

    debounce: float = 0.020
    lockout: float = 0.0

    @classmethod
    def from_profile(cls, access: AccessSection) -> AccessSettings:
        return cls(debounce=access.debounce_ms / 1000.0, lockout=access.lockout_ms / 1000.0)


class AccessFilter:
    """The state of one input: what the client's switch is doing, as the music hears it."""

    __slots__ = (
        "_last_accepted_press",
        "_last_edge",
        "pressed",
        "pressed_at",
        "raw_active",
        "rejected_hold",
        "settings",
    )

    def __init__(self, settings: AccessSettings) -> None:
        self.settings = settings
        self.pressed = False  # a press was accepted and has not been released
        self.pressed_at = 0.0
        self.rejected_hold = False  # the switch is held, but its press was rejected
        self.raw_active = False  # the last edge seen, debounced or not
        self._last_edge = -1e9
        self._last_accepted_press = -1e9

    def edge(self, active: bool, at: float) -> Decision:
        """Decide on an edge to `active` at monotonic time `at` (seconds)."""
        self.raw_active = active
        if at - self._last_edge < self.settings.debounce:
            return Decision.BOUNCE
        self._last_edge = at
        return self._settle(active, at)

    def settle(self, at: float) -> Decision:
        """Catch up with the switch after a debounce window that swallowed its last edge."""
        return self._settle(self.raw_active, at)

    def _settle(self, active: bool, at: float) -> Decision:
        if active:
            if self.pressed or self.rejected_hold:
                return Decision.IGNORED
            if at - self._last_accepted_press < self.settings.lockout:
                self.rejected_hold = True
                return Decision.LOCKOUT
            self.pressed = True
            self.pressed_at = at
            self._last_accepted_press = at
            return Decision.PRESS
        if self.rejected_hold:
            self.rejected_hold = False
            return Decision.IGNORED
        if self.pressed:
            self.pressed = False
            return Decision.RELEASE
        return Decision.IGNORED

    @property
    def needs_settling(self) -> bool:
        """True when the switch's last edge was swallowed and its state differs from ours."""
        return self.raw_active != (self.pressed or self.rejected_hold)
