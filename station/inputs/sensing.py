"""From a variable sensor's reading to what it plays: calibration, smoothing, zones, threshold.

Pure arithmetic on one value at a time, no devices and no threads, so that each step can be
tested on its own and run on the sensor thread at any rate. A reading goes through them in
this order (station/inputs/sensors.py):

1. the reading as a fraction of the sensor's range (0 far / relaxed, 1 near / squeezed);
2. `Calibration`: the client's own floor and ceiling, dead zone and curve, to 0–1;
3. `OneEuroFilter`: jitter smoothed while the hand is still, little lag when it moves;
4. a mapping: `ZoneTracker` (zones → notes), `ThresholdSwitch` (variable → switch) or the
   value itself (continuous → expression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    """One client's range on one sensor (their profile's ``[sensors.NAME]`` table).

    `floor` and `ceiling` are the readings (0–1 of the sensor's range) the client's movement
    starts and ends at; `dead_zone` is the share of that range just above the floor that
    counts as no movement at all (a resting hand, a pad that is merely touched); `curve` bends
    what remains: below 1 a small movement counts for more, above 1 it takes more.
    """

    floor: float = 0.0
    ceiling: float = 1.0
    dead_zone: float = 0.05
    curve: float = 1.0

    def apply(self, reading: float) -> float:
        """`reading` (0–1 of the sensor's range) as 0–1 of this client's range; 0 in the dead
        zone and below the floor, 1 at and above the ceiling."""
        span = self.ceiling - self.floor
        fraction = (reading - self.floor) / span if span > 0 else 0.0
        if fraction <= self.dead_zone:
            return 0.0
        if fraction >= 1.0:
            return 1.0
        return float(((fraction - self.dead_zone) / (1.0 - self.dead_zone)) ** self.curve)


class OneEuroFilter:
    """Casiez, Roussel and Vogel's 1€ filter (CHI 2012): a low-pass whose cut-off rises with
    the speed of the movement.

    A still, trembling hand is smoothed at `min_cutoff_hz`; a moving one is followed with a
    cut-off raised by `beta` per unit of speed (value units per second), so a deliberate
    movement is not delayed the way a fixed low-pass (or a median of the last readings)
    delays it. The delay is measured by `station bench sensors` (``smoothing_delay_ms``).
    """

    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 4.0,
                 derivative_cutoff_hz: float = 1.0) -> None:
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.derivative_cutoff_hz = derivative_cutoff_hz
        self._value: float | None = None
        self._speed = 0.0
        self._at = 0.0

    @staticmethod
    def _alpha(cutoff_hz: float, seconds: float) -> float:
        time_constant = 1.0 / (2.0 * math.pi * cutoff_hz)
        return 1.0 / (1.0 + time_constant / seconds)

    def reset(self) -> None:
        """Forget the past: the next value is taken as it is (after a gap in the readings)."""
        self._value = None

    def __call__(self, value: float, at: float) -> float:
        """The smoothed value for `value` read at monotonic time `at` (seconds)."""
        previous = self._value
        seconds = at - self._at
        self._at = at
        if previous is None or seconds <= 0.0:
            self._value = value
            self._speed = 0.0
            return value
        speed = (value - previous) / seconds
        self._speed += self._alpha(self.derivative_cutoff_hz, seconds) * (speed - self._speed)
        cutoff = self.min_cutoff_hz + self.beta * abs(self._speed)
        smoothed = previous + self._alpha(cutoff, seconds) * (value - previous)
        self._value = smoothed
        return smoothed


class ZoneTracker:
    """Which of `zones` equal zones a 0–1 value is in, with hysteresis at every border.

    0 (the dead zone, no hand in the beam) is no zone (None). A value must pass a border by
    `hysteresis` (a share of the whole range) before the zone changes, so a trembling hand on a
    border stays in its zone; from no zone the first zone is entered once the value is above
    `hysteresis`.
    """

    def __init__(self, zones: int, hysteresis: float) -> None:
        if zones < 1:
            raise ValueError("at least one zone")
        self.zones = zones
        self.hysteresis = hysteresis
        self.zone: int | None = None

    def _plain_zone(self, value: float) -> int:
        return min(self.zones - 1, int(value * self.zones))

    def update(self, value: float) -> int | None:
        """The zone (0-based) after `value`; None while the value is 0."""
        current = self.zone
        if value <= 0.0:
            self.zone = None
        elif current is None:
            if value > self.hysteresis:
                self.zone = self._plain_zone(value)
        else:
            width = 1.0 / self.zones
            low = current * width - self.hysteresis
            high = (current + 1) * width + self.hysteresis
            # The top zone has no upper border: a value of 1 is in it.
            inside = value >= low and (value < high or current == self.zones - 1)
            if not inside:
                self.zone = self._plain_zone(value)
        return self.zone


class ThresholdSwitch:
    """A variable value as a switch: on at `threshold`, off again below threshold minus
    `hysteresis`, so a squeeze that wavers at the threshold is one press, not many."""

    def __init__(self, threshold: float, hysteresis: float) -> None:
        self.threshold = threshold
        self.hysteresis = hysteresis
        self.on = False

    def update(self, value: float) -> bool:
        """Whether the switch is on after `value`."""
        if self.on:
            self.on = value >= self.threshold - self.hysteresis
        else:
            self.on = value >= self.threshold
        return self.on
