"""Switches: gpiozero input devices (and their LEDs) wired to access filters.

The press path is: gpiozero edge callback → `AccessFilter.edge` → the `PressListener`
(which triggers the sound and queues the event). Nothing else runs on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from gpiozero import LED, DigitalInputDevice

from station.config import InputConfig
from station.inputs.access import AccessFilter, AccessSettings, Decision

log = logging.getLogger(__name__)


class PressListener(Protocol):
    """Receives the filter's decisions; called on the press path, so it must be quick."""

    def pressed(self, switch: Switch, at: float) -> None: ...

    def released(self, switch: Switch, at: float, held_seconds: float) -> None: ...

    def rejected(self, switch: Switch, reason: str, at: float) -> None: ...


class Switch:
    """One configured input: its GPIO device, optional LED and access filter."""

    def __init__(
        self,
        config: InputConfig,
        pin: int,
        settings: AccessSettings,
        listener: PressListener,
        settler: Settler,
        pin_factory: Any,
    ) -> None:
        self.config = config
        self.name = config.name
        self.slot = config.slot
        self.pin = pin
        self.filter = AccessFilter(settings)
        self._listener = listener
        self._settler = settler
        # bounce_time stays None: the access filter debounces on the first edge instead.
        self.device = DigitalInputDevice(
            pin, pull_up=config.pull_up, bounce_time=None, pin_factory=pin_factory
        )
        self.led = (
            LED(config.led_pin, pin_factory=pin_factory) if config.led_pin is not None else None
        )
        self.device.when_activated = self._on_activated
        self.device.when_deactivated = self._on_deactivated

    def _on_activated(self) -> None:
        self.edge(True, time.monotonic())

    def _on_deactivated(self) -> None:
        self.edge(False, time.monotonic())

    def edge(self, active: bool, at: float) -> None:
        self._act(self.filter.edge(active, at), at)

    def settle(self, at: float) -> None:
        self._act(self.filter.settle(at), at)

    def _act(self, decision: Decision, at: float) -> None:
        if decision is Decision.PRESS:
            self._listener.pressed(self, at)
            if self.led is not None:
                self.led.on()
        elif decision is Decision.RELEASE:
            self._listener.released(self, at, at - self.filter.pressed_at)
            if self.led is not None:
                self.led.off()
        elif decision is Decision.LOCKOUT:
            self._listener.rejected(self, decision.value, at)
        elif decision is Decision.BOUNCE:
            self._settler.check_after(self, at + self.filter.settings.debounce)

    def close(self) -> None:
        self.device.close()
        if self.led is not None:
            self.led.close()


class Settler:
    """Re-checks a switch when its debounce window ends, if the window swallowed its last edge.

    Without this a tap shorter than the debounce window would leave its note hanging.
    """

    def __init__(self) -> None:
        self._due: dict[Switch, float] = {}
        self._wake = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="debounce-settler", daemon=True)
        self._thread.start()

    def check_after(self, switch: Switch, at: float) -> None:
        with self._wake:
            self._due[switch] = at
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while self._running:
                if not self._due:
                    self._wake.wait()
                    continue
                switch, due = min(self._due.items(), key=lambda item: item[1])
                delay = due - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                del self._due[switch]
                if switch.filter.needs_settling:
                    switch.settle(due)

    def close(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        self._thread.join(timeout=2)


def free_pins(inputs: Sequence[InputConfig]) -> list[int]:
    """BCM pins no input or LED uses, for keyboard-only inputs in simulation."""
    used = {pin for item in inputs for pin in (item.pin, item.led_pin) if pin is not None}
    return [pin for pin in range(27, 1, -1) if pin not in used]


class SwitchBoard:
    """Every configured input, built on one pin factory."""

    def __init__(
        self,
        inputs: Sequence[InputConfig],
        settings: AccessSettings,
        listener: PressListener,
        pin_factory: Any,
        simulate: bool,
    ) -> None:
        self.settler = Settler()
        spare = free_pins(inputs)
        self.switches: dict[str, Switch] = {}
        for item in inputs:
            pin = item.pin
            if pin is None:
                if not simulate:
                    log.warning("input %r has no pin and works only with --simulate", item.name)
                    continue
                pin = spare.pop(0)
            self.switches[item.name] = Switch(
                item, pin, settings, listener, self.settler, pin_factory
            )

    def apply(self, settings: AccessSettings) -> None:
        """New access settings (a new client); applies from each switch's next edge."""
        for switch in self.switches.values():
            switch.filter.settings = settings

    def close(self) -> None:
        self.settler.close()
        for switch in self.switches.values():
            switch.close()
