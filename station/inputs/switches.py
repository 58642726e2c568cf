"""Switches: gpiozero input devices (and their LEDs) wired to access filters.

The press path is: the gpiozero pin's edge callback → `AccessFilter.edge` → the `PressListener`
(which triggers the sound and queues the event). Nothing else runs on it. Decisions that wait
for time to pass run on the one `DeadlineScheduler` thread, never on a thread or timer of
their own.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from gpiozero import LED, InputDevice

from station.config import AccessSection, AccessSettings, InputConfig
from station.config.station_file import SPI0_CHIP_SELECT, SPI0_PINS
from station.contract.events import EventType
from station.inputs.access import AccessFilter, Action

log = logging.getLogger(__name__)


class PressListener(Protocol):
    """Receives the filter's decisions; called on the press path, so it must be quick."""

    def pressed(self, switch: Switch, at: float) -> None: ...

    def released(self, switch: Switch, at: float, held_seconds: float) -> None: ...

    def rejected(self, switch: Switch, reason: str, at: float, amount: int = 1) -> None: ...


class Ticking(Protocol):
    """Something with deferred decisions: `tick(now)` applies what is due and returns the
    monotonic time (seconds) it next needs a tick, or math.inf."""

    def tick(self, now: float) -> float: ...


class DeadlineScheduler:
    """The one thread that applies every input's deferred decisions when they fall due.

    Acceptance delays, release tolerances, timed notes, the stuck-switch guard and the ends of
    debounce windows all come here as a deadline per input, not as a thread or timer each.
    """

    def __init__(self) -> None:
        self._due: dict[Ticking, float] = {}
        self._wake = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="input-deadlines", daemon=True)
        self._thread.start()

    def wake(self, target: Ticking, at: float) -> None:
        """Tick `target` at monotonic time `at` (seconds) or earlier."""
        with self._wake:
            current = self._due.get(target)
            if current is not None and current <= at:
                # An earlier tick is already due; it reports the next deadline itself.
                return
            self._due[target] = at
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while self._running:
                if not self._due:
                    self._wake.wait()
                    continue
                target, due = min(self._due.items(), key=lambda item: item[1])
                delay = due - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                del self._due[target]
                # Tick without the lock, so that edges can schedule meanwhile.
                self._wake.release()
                try:
                    following = target.tick(time.monotonic())
                except Exception:
                    log.exception("deferred input decision failed; the input carries on")
                    following = math.inf
                finally:
                    self._wake.acquire()
                if following != math.inf:
                    current = self._due.get(target)
                    if current is None or following < current:
                        self._due[target] = following

    def close(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        self._thread.join(timeout=2)


class Switch:
    """One configured input: its GPIO device, optional LED and access filter."""

    def __init__(
        self,
        config: InputConfig,
        pin: int | None,
        settings: AccessSettings,
        listener: PressListener,
        scheduler: DeadlineScheduler,
        pin_factory: Any,
    ) -> None:
        self.config = config
        self.name = config.name
        self.slot = config.slot
        self.pin = pin
        self.filter = AccessFilter(settings)
        self._listener = listener
        self._scheduler = scheduler
        # Edges (gpiozero's callback thread) and deadlines (the scheduler thread) change the
        # filter; re-entrant because a control's listener may change settings.
        self._lock = threading.RLock()
        # No pin: a USB switch, whose edges come from `station.inputs.usb`.
        self.gpio_device: InputDevice | None = None
        # A switch to ground with a pull-up reads low while pressed.
        self._active_level = not config.pull_up
        if pin is not None:
            # gpiozero's InputDevice owns the pin (reservation, pull). Edges come from the pin
            # itself: DigitalInputDevice's event layer (active times, handler look-up) would
            # double the time the press path spends in gpiozero, and its bounce_time would
            # wait out the window instead of acting on the first edge.
            self.gpio_device = InputDevice(pin, pull_up=config.pull_up, pin_factory=pin_factory)
            self.gpio_device.pin.edges = "both"
            self.gpio_device.pin.when_changed = self._pin_changed
        self.led = (
            LED(config.led_pin, pin_factory=pin_factory) if config.led_pin is not None else None
        )
        # The LED that follows the note, or the one that follows the switch; at most one.
        self._note_led = self.led if config.led_shows == "note" else None
        self._switch_led = self.led if config.led_shows == "switch" else None
        # Lit by a cue that asks for this switch (station/engine/cues.py), over what it shows.
        self._cue_lit = False
        self._note_sounding = False

    def _pin_changed(self, ticks: float, state: int | bool) -> None:
        # The time is taken here, first: decisions use the edge's time, not the callback's.
        at = time.monotonic()
        self.edge(bool(state) == self._active_level, at)

    def edge(self, active: bool, at: float) -> None:
        """An edge to `active` at monotonic time `at` (seconds, taken at the edge)."""
        with self._lock:
            actions = self.filter.edge(active, at)
            if actions:
                self._deliver(actions)
            if self._switch_led is not None:
                self._show_switch(self._switch_led)
            deadline = self.filter.deadline
        if deadline != math.inf:
            self._scheduler.wake(self, deadline)

    def tick(self, now: float) -> float:
        with self._lock:
            actions = self.filter.tick(now)
            if actions:
                self._deliver(actions)
            if self._switch_led is not None:
                self._show_switch(self._switch_led)
            return self.filter.deadline

    def _show_switch(self, led: LED) -> None:
        # The debounced level: bounce does not flicker the LED.
        lit = self.filter.level or self._cue_lit
        if led.is_lit != lit:
            led.value = lit

    def cue_light(self, on: bool) -> None:
        """Light the LED for a cue that asks for this switch, or give it back to what it shows
        (the note or the switch); no LED, nothing."""
        if self.led is None:
            return
        with self._lock:
            self._cue_lit = on
            shown = self.filter.level if self._switch_led is not None else self._note_sounding
            self.led.value = on or shown

    def apply(self, settings: AccessSettings) -> None:
        """New settings from now on; a note sounding under a different mode is ended."""
        with self._lock:
            actions = self.filter.apply(settings, time.monotonic())
            if actions:
                self._deliver(actions)
            deadline = self.filter.deadline
        if deadline != math.inf:
            self._scheduler.wake(self, deadline)

    def _deliver(self, actions: list[Action]) -> None:
        listener = self._listener
        for action in actions:
            kind = action.kind
            if kind == EventType.PRESS:
                listener.pressed(self, action.at)
                self._note_sounding = True
                if self._note_led is not None:
                    self._note_led.on()
            elif kind == EventType.RELEASE:
                listener.released(self, action.at, action.seconds)
                self._note_sounding = False
                if self._note_led is not None and not self._cue_lit:
                    self._note_led.off()
            else:
                listener.rejected(self, action.reason, action.at, action.amount)

    def close(self) -> None:
        if self.gpio_device is not None:
            self.gpio_device.close()
        if self.led is not None:
            self.led.close()


def free_pins(inputs: Sequence[InputConfig]) -> list[int]:
    """BCM pins no input or LED uses, for keyboard-only inputs in simulation."""
    used = {
        pin for item in inputs for pin in (item.pin, item.pin_b, item.led_pin, item.echo_pin)
        if pin is not None
    }
    if any(item.kind == "analog" for item in inputs):
        used |= {*SPI0_PINS.values(), *SPI0_CHIP_SELECT.values()}
    return [pin for pin in range(27, 1, -1) if pin not in used]


class SwitchBoard:
    """Every play input, built on one pin factory, with the one deadline scheduler."""

    def __init__(
        self,
        inputs: Sequence[InputConfig],
        profile: AccessSection | None,
        listener: PressListener,
        pin_factory: Any,
        simulate: bool,
        scheduler: DeadlineScheduler | None = None,
    ) -> None:
        self.scheduler = scheduler or DeadlineScheduler()
        spare = free_pins(inputs)
        self.switches: dict[str, Switch] = {}
        for item in inputs:
            # A variable sensor's switch is built with the sensor (station/inputs/sensors.py)
            # and joins `switches` there.
            if item.role != "play" or item.is_sensor:
                continue
            pin = item.pin
            if pin is None and (simulate or item.kind != "usb-switch"):
                if not simulate:
                    log.warning("input %r has no pin and works only with --simulate", item.name)
                    continue
                # Simulated on a spare mock pin, USB switches included.
                pin = spare.pop(0)
            self.switches[item.name] = Switch(
                item,
                pin,
                AccessSettings.for_input(item, profile),
                listener,
                self.scheduler,
                pin_factory,
            )
        # Pins left for keyboard-only controls in simulation.
        self.spare_pins = spare if simulate else []

    def cue_lights(self, names: Sequence[str], on: bool) -> None:
        """Light (or give back) the LEDs of the inputs `names` for a cue."""
        for name in names:
            switch = self.switches.get(name)
            if switch is not None:
                switch.cue_light(on)

    def apply(self, profile: AccessSection | None) -> None:
        """A new client's access settings (their ``[access]`` table), while running.

        A press in progress carries on under the new numbers; one whose mode changes ends its
        note now and is ignored until let go, so no note is left hanging.
        """
        for switch in self.switches.values():
            switch.apply(AccessSettings.for_input(switch.config, profile))

    def close(self) -> None:
        self.scheduler.close()
        for switch in self.switches.values():
            switch.close()
