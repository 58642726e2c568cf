"""Therapist controls on MockFactory pins, driving a recording stand-in for the engine.

The stand-in implements `EngineControl`, the station's own protocol; the GPIO is gpiozero's
MockFactory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from station.config import InputConfig
from station.inputs.controls import FAULT_BLINK, READY_BLINK, ControlPanel
from station.inputs.simulate import SimulatedSwitches, read_lines
from station.inputs.switches import DeadlineScheduler, SwitchBoard

WAIT = 5.0


class RecordingEngine:
    """Records what the controls asked for; behaves like the engine for session state."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.session = ""
        self.changed = threading.Condition()
        self.fail_next = False

    def _record(self, call: tuple[str, int]) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the sound set folder is unreadable")

    @property
    def session_running(self) -> bool:
        return bool(self.session)

    def step_sound_set(self, step: int) -> str:
        self._record(("step_sound_set", step))
        return "warm-strings"

    def step_volume(self, step: int) -> float:
        self._record(("step_volume", step))
        return 0.5

    def start_session(self) -> str:
        self.session = "s1"
        self._record(("start_session", 0))
        return self.session

    def end_session(self) -> None:
        self.session = ""
        self._record(("end_session", 0))

    def wait_for(self, count: int) -> list[tuple[str, int]]:
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.calls) >= count, WAIT)
            assert ok, f"expected {count} control calls within {WAIT} s; got {self.calls}"
            return list(self.calls)


def button(name: str, pin: int, action: str) -> InputConfig:
    # No debounce window, so that a test can tap the same button twice in a row.
    return InputConfig.model_validate({"name": name, "pin": pin, "role": "control",
                                       "action": action, "access": {"debounce_ms": 0}})


CONTROLS = [
    button("louder", 4, "volume-up"),
    button("softer", 18, "volume-down"),
    button("next-set", 24, "next-sound-set"),
    button("previous-set", 25, "previous-sound-set"),
    InputConfig.model_validate({
        "name": "session", "pin": 12, "led_pin": 16, "role": "control", "action": "session",
        # Shorter than the 2 s default, to keep the test quick; the default has its own test.
        "access": {"acceptance_ms": 300},
    }),
    InputConfig(name="knob", kind="rotary-encoder", pin=20, pin_b=21, role="control",
                action="volume"),
    InputConfig(name="big-red", pin=17, slot=1),
]
STATUS_LED = 26


@pytest.fixture
def panel(mock_factory: Any) -> Iterator[tuple[ControlPanel, RecordingEngine]]:
    engine = RecordingEngine()
    scheduler = DeadlineScheduler()
    made = ControlPanel(CONTROLS, engine, mock_factory, scheduler, status_led_pin=STATUS_LED)
    yield made, engine
    made.close()
    scheduler.close()


def tap(pin: Any) -> None:
    pin.drive_low()
    pin.drive_high()


def test_only_control_inputs_become_controls(panel: Any) -> None:
    made, _ = panel
    assert sorted(made.switches) == ["louder", "next-set", "previous-set", "session", "softer"]
    assert list(made.encoders) == ["knob"]


def test_volume_and_sound_set_buttons_step_the_engine(panel: Any, mock_factory: Any) -> None:
    _, engine = panel
    for pin in (4, 4, 18, 24, 25):
        tap(mock_factory.pin(pin))
    assert engine.wait_for(5) == [
        ("step_volume", 1), ("step_volume", 1), ("step_volume", -1),
        ("step_sound_set", 1), ("step_sound_set", -1),
    ]


def quadrature(factory: Any, a: int, b: int, clockwise: bool) -> None:
    """One detent of an encoder wired to ground: the lines fall and rise a quarter apart."""
    first, second = (factory.pin(a), factory.pin(b)) if clockwise else (
        factory.pin(b), factory.pin(a))
    first.drive_low()
    second.drive_low()
    first.drive_high()
    second.drive_high()


def test_the_rotary_encoder_steps_the_volume_each_way(panel: Any, mock_factory: Any) -> None:
    _, engine = panel
    quadrature(mock_factory, 20, 21, clockwise=True)
    quadrature(mock_factory, 20, 21, clockwise=True)
    quadrature(mock_factory, 20, 21, clockwise=False)
    assert engine.wait_for(3) == [("step_volume", 1), ("step_volume", 1), ("step_volume", -1)]


def test_a_short_press_on_the_session_button_does_nothing_and_a_long_one_toggles(
    panel: Any, mock_factory: Any
) -> None:
    _, engine = panel
    button, led = mock_factory.pin(12), mock_factory.pin(16)
    tap(button)  # a bump: far shorter than the long press
    pressed = time.monotonic()
    button.drive_low()
    assert engine.wait_for(1) == [("start_session", 0)]
    assert time.monotonic() - pressed >= 0.3, "only once held for the long press"
    assert led.state, "the button's LED confirms the long press"
    button.drive_high()
    button.drive_low()
    assert engine.wait_for(2) == [("start_session", 0), ("end_session", 0)]
    button.drive_high()


def wait_for_blinks(pin: Any, toggles: int) -> list[Any]:
    """The pin's state history once it has changed `toggles` more times."""
    start = len(pin.states)
    deadline = time.monotonic() + WAIT
    while len(pin.states) < start + toggles:
        assert time.monotonic() < deadline, f"the LED did not blink: {pin.states[-5:]}"
        threading.Event().wait(0.01)
    return list(pin.states[start:])


def on_times(states: list[Any]) -> list[float]:
    """How long each on-phase lasted: a state entry's timestamp is the time since the change
    before it, so an off entry carries the length of the on-phase it ends."""
    return [state.timestamp for state in states if not state.state]


def test_the_status_led_blinks_ready_stays_on_in_a_session_and_blinks_fast_on_a_fault(
    panel: Any, mock_factory: Any
) -> None:
    made, engine = panel
    led = mock_factory.pin(STATUS_LED)
    ready = wait_for_blinks(led, 2)
    assert on_times(ready)[0] == pytest.approx(READY_BLINK[0], abs=0.05)
    engine.start_session()
    with engine.changed:
        assert engine.changed.wait_for(lambda: made.status is not None
                                       and made.status.shown == "session", WAIT)
    assert led.state, "steady on while a session runs"
    made.show_fault()
    fast = wait_for_blinks(led, 6)
    assert all(on == pytest.approx(FAULT_BLINK[0], abs=0.05) for on in on_times(fast)[1:])


def test_a_failing_control_is_logged_and_the_next_one_still_works(
    panel: Any, mock_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, engine = panel
    engine.fail_next = True
    tap(mock_factory.pin(24))
    engine.wait_for(1)
    tap(mock_factory.pin(4))
    assert engine.wait_for(2)[-1] == ("step_volume", 1)
    assert "control sound-set failed: the sound set folder is unreadable" in caplog.text


def test_the_session_button_needs_two_seconds_by_default(mock_factory: Any) -> None:
    engine = RecordingEngine()
    scheduler = DeadlineScheduler()
    item = InputConfig(name="session", pin=12, role="control", action="session")
    made = ControlPanel([item], engine, mock_factory, scheduler)
    try:
        assert made.switches["session"].filter.settings.acceptance == 2.0
    finally:
        made.close()
        scheduler.close()




def test_simulated_lines_press_control_buttons_too(panel: Any, mock_factory: Any) -> None:
    made, engine = panel
    board = SwitchBoard([], None, made, mock_factory, simulate=True)
    try:
        simulated = SimulatedSwitches(board, mock_factory, made.switches)
        read_lines(simulated, iter(["press next-set\n", "release next-set\n"]), None)  # type: ignore[arg-type]
        assert engine.wait_for(1) == [("step_sound_set", 1)]
    finally:
        board.close()
