"""Therapist controls: volume buttons or a rotary encoder, sound-set buttons, a session button
held for a long press, and a status LED.

The controls change the engine through `EngineControl`, a protocol the engine implements, so
this package does not import the engine. Buttons read through the same access filter and
deadline scheduler as the play inputs (a session button is a button with a 2 s acceptance
delay, so a client leaning on it by accident starts nothing). What a control does can take a
while (a sound-set change, a session start writes to the event log), so it runs on the
panel's one worker thread, never on the GPIO callback thread that the play inputs share.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from gpiozero import LED, RotaryEncoder

from station.config import AccessSettings, InputConfig
from station.inputs.switches import DeadlineScheduler, Switch

log = logging.getLogger(__name__)

# Status LED patterns: (on seconds, off seconds); None is steady on.
READY_BLINK = (0.1, 1.9)
FAULT_BLINK = (0.1, 0.1)
STATE_REFRESH_SECONDS = 0.5  # the LED follows session changes made by commands within this
FAILED_CONTROL_FAULT_SECONDS = 3.0  # a control that failed shows the fault pattern this long

_STOP = "stop"


class EngineControl(Protocol):
    """What the controls may ask of the engine (implemented by
    `station.engine.station_control.StationControl`)."""

    @property
    def session_running(self) -> bool: ...

    def step_sound_set(self, step: int) -> str: ...

    def step_volume(self, step: int) -> float: ...

    def start_session(self) -> str: ...

    def end_session(self) -> None: ...

    def cue_button(self) -> None: ...

    def toggle_activity(self) -> None: ...


class StatusLight:
    """The status LED: a short blink every 2 s when ready, steady during a session, fast
    blinking on a fault (a USB switch device is missing, for 3 s after a control failed, and
    while the engine stops because it is unhealthy)."""

    def __init__(self, pin: int, pin_factory: Any) -> None:
        self.led = LED(pin, pin_factory=pin_factory)
        self.shown = ""

    def show(self, state: str) -> None:
        """Show "ready", "session" or "fault"; showing the same state again changes nothing."""
        if state == self.shown:
            return
        self.shown = state
        if state == "session":
            self.led.on()
        else:
            on_time, off_time = FAULT_BLINK if state == "fault" else READY_BLINK
            self.led.blink(on_time=on_time, off_time=off_time, background=True)

    def close(self) -> None:
        self.led.close()


class ControlPanel:
    """Every control input of the station, and the status LED."""

    def __init__(
        self,
        inputs: Sequence[InputConfig],
        engine: EngineControl,
        pin_factory: Any,
        scheduler: DeadlineScheduler,
        *,
        status_led_pin: int | None = None,
        spare_pins: Sequence[int] = (),
    ) -> None:
        self._engine = engine
        self._commands: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._fault = False
        self._fault_until = 0.0
        self.switches: dict[str, Switch] = {}
        self.encoders: dict[str, RotaryEncoder] = {}
        spare = list(spare_pins)
        for item in inputs:
            if item.role != "control":
                continue
            pin = item.pin
            if pin is None and (spare or item.kind != "usb-switch"):
                if not spare:
                    log.warning("control %r has no pin and works only with --simulate", item.name)
                    continue
                pin = spare.pop(0)
            if item.kind == "rotary-encoder" and pin is not None:
                encoder = RotaryEncoder(
                    pin, item.pin_b, bounce_time=None, max_steps=0, pin_factory=pin_factory
                )
                encoder.when_rotated_clockwise = lambda: self._commands.put(("volume", 1))
                encoder.when_rotated_counter_clockwise = lambda: self._commands.put(("volume", -1))
                self.encoders[item.name] = encoder
            else:
                self.switches[item.name] = Switch(
                    item, pin, AccessSettings.for_input(item, None), self, scheduler, pin_factory
                )
        self.status = (
            StatusLight(status_led_pin, pin_factory) if status_led_pin is not None else None
        )
        self._worker = threading.Thread(target=self._work, name="controls", daemon=True)
        self._worker.start()

    # -- PressListener: a control button's filter decided ------------------------------------
    def pressed(self, switch: Switch, at: float) -> None:
        action = switch.config.action
        if action == "volume-up":
            self._commands.put(("volume", 1))
        elif action == "volume-down":
            self._commands.put(("volume", -1))
        elif action == "next-sound-set":
            self._commands.put(("sound-set", 1))
        elif action == "previous-sound-set":
            self._commands.put(("sound-set", -1))
        elif action == "session":
            self._commands.put(("session", 0))
        elif action in ("cue", "activity"):
            self._commands.put((action, 0))

    def released(self, switch: Switch, at: float, held_seconds: float) -> None:
        pass

    def rejected(self, switch: Switch, reason: str, at: float, amount: int = 1) -> None:
        log.debug("control %s: press rejected (%s)", switch.name, reason)

    # -- the worker ------------------------------------------------------------------------
    def show_fault(self, fault: bool = True) -> None:
        """Blink the status LED fast until called with False."""
        if fault != self._fault:
            self._fault = fault
            self._commands.put(("refresh", 0))

    def _work(self) -> None:
        while True:
            self._show_state()
            try:
                command, step = self._commands.get(timeout=STATE_REFRESH_SECONDS)
            except queue.Empty:
                continue
            if command == _STOP:
                return
            try:
                self._carry_out(command, step)
            except Exception as error:  # a failed control must not stop the other controls
                log.error("control %s failed: %s", command, error)
                self._fault_until = time.monotonic() + FAILED_CONTROL_FAULT_SECONDS

    def _carry_out(self, command: str, step: int) -> None:
        engine = self._engine
        if command == "volume":
            log.info("volume: %.0f%% of the client's ceiling", engine.step_volume(step) * 100)
        elif command == "sound-set":
            log.info("sound set: %s", engine.step_sound_set(step))
        elif command == "session":
            if engine.session_running:
                engine.end_session()
            else:
                engine.start_session()
        elif command == "cue":
            engine.cue_button()
        elif command == "activity":
            engine.toggle_activity()

    def _show_state(self) -> None:
        if self.status is None:
            return
        try:
            running = self._engine.session_running
        except Exception:
            running = False
        fault = self._fault or time.monotonic() < self._fault_until
        self.status.show("fault" if fault else "session" if running else "ready")

    def close(self) -> None:
        self._commands.put((_STOP, 0))
        self._worker.join(timeout=5)
        for switch in self.switches.values():
            switch.close()
        for encoder in self.encoders.values():
            encoder.close()
        if self.status is not None:
            self.status.close()
