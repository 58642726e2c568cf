"""Switches on gpiozero's MockFactory: what counts as a press, what is rejected, and why.

Pins are driven with `drive_low()` / `drive_high()` at real times (a busy wait to the
microsecond where a test needs contact bounce); outcomes are awaited on a condition with a
timeout, never guessed with a sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from station.config import AccessOverride, AccessSection, InputConfig
from station.errors import InputError
from station.inputs.access import BOUNCE, LOCKOUT, STUCK, TOO_SHORT
from station.inputs.simulate import SimulatedSwitches, read_lines
from station.inputs.switches import DeadlineScheduler, Switch, SwitchBoard

WAIT = 5.0  # seconds a test waits for an outcome before it fails


@dataclass
class Heard:
    """A PressListener that keeps what the station decided, for the test to check and wait on."""

    log: list[tuple[str, str, str, float]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _add(self, entry: tuple[str, str, str, float]) -> None:
        with self.changed:
            self.log.append(entry)
            self.changed.notify_all()

    def pressed(self, switch: Switch, at: float) -> None:
        self._add(("press", switch.name, "", at))

    def released(self, switch: Switch, at: float, held_seconds: float) -> None:
        self._add(("release", switch.name, "", at))

    def rejected(self, switch: Switch, reason: str, at: float, amount: int = 1) -> None:
        self._add(("rejected", switch.name, reason, at))

    def events(self, *, bounces: bool = False) -> list[tuple[str, str]]:
        with self.changed:
            return [(kind, reason or name) for kind, name, reason, _ in self.log
                    if bounces or reason != BOUNCE]

    def wait_for(self, predicate: Callable[[list[tuple[str, str]]], bool]) -> list[Any]:
        with self.changed:
            ok = self.changed.wait_for(lambda: predicate(self.events()), WAIT)
        assert ok, f"the expected decisions did not come within {WAIT} s; heard {self.events()}"
        return self.events()


INPUTS = [
    InputConfig(name="big-red", pin=17, led_pin=5, slot=1, key="a"),
    InputConfig(name="low-switch", kind="adaptive-switch", pin=27, pull_up=False, slot=2),
    InputConfig(name="sim-key", kind="keyboard", slot=3, key="k"),
    InputConfig(name="volume-up", pin=4, role="control", action="volume-up"),
]


def make_board(factory: Any, **access: Any) -> tuple[SwitchBoard, Heard]:
    heard = Heard()
    board = SwitchBoard(INPUTS, AccessSection(**access), heard, factory, simulate=True)
    return board, heard


@pytest.fixture
def board(mock_factory: Any) -> Iterator[tuple[SwitchBoard, Heard]]:
    made, heard = make_board(mock_factory)
    yield made, heard
    made.close()


@pytest.fixture
def build(mock_factory: Any) -> Iterator[Callable[..., tuple[SwitchBoard, Heard]]]:
    made: list[SwitchBoard] = []

    def make(**access: Any) -> tuple[SwitchBoard, Heard]:
        board, heard = make_board(mock_factory, **access)
        made.append(board)
        return board, heard

    yield make
    for board in made:
        board.close()


def at(moment: float) -> None:
    """Busy-wait until monotonic time `moment`: sub-millisecond timing for contact bounce."""
    while time.monotonic() < moment:
        pass


def test_play_inputs_are_switches_and_controls_are_left_to_the_control_panel(
    board: tuple[SwitchBoard, Heard]
) -> None:
    made, _ = board
    assert list(made.switches) == ["big-red", "low-switch", "sim-key"]


def test_1khz_chatter_for_5ms_is_exactly_one_press(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    _, heard = build(debounce_ms=20)
    pin = mock_factory.pin(17)
    start = time.monotonic()
    for step in range(11):  # 1 kHz: a change every 0.5 ms for 5 ms, ending pressed
        at(start + step * 0.0005)
        pin.drive_low() if step % 2 == 0 else pin.drive_high()
    assert heard.events()[:1] == [("press", "big-red")], "the first edge sounds at once"
    at(start + 0.1)
    pin.drive_high()
    events = heard.wait_for(lambda e: ("release", "big-red") in e)
    assert events == [("press", "big-red"), ("release", "big-red")]
    everything = heard.wait_for(lambda _: any(
        reason == BOUNCE for _, _, reason, _ in heard.log))
    assert len(everything) == 2
    assert [entry[2] for entry in heard.log].count(BOUNCE) == 1, "one report, not ten"


def test_a_gpio_press_lights_the_led_until_its_release(board: Any, mock_factory: Any) -> None:
    _made, heard = board
    pin, led = mock_factory.pin(17), mock_factory.pin(5)
    pin.drive_low()
    assert heard.events() == [("press", "big-red")]
    assert led.state, "the LED is lit while the input sounds"
    pin.drive_high()
    heard.wait_for(lambda e: ("release", "big-red") in e)
    assert not led.state


def test_a_tap_shorter_than_the_debounce_window_still_ends_its_note(
    board: Any, mock_factory: Any
) -> None:
    _made, heard = board
    pin = mock_factory.pin(17)
    pin.drive_low()
    pin.drive_high()  # inside the window: the scheduler follows the switch at the window's end
    assert heard.wait_for(lambda e: ("release", "big-red") in e) == [
        ("press", "big-red"), ("release", "big-red")
    ]
    assert not mock_factory.pin(5).state


def test_tremor_blips_shorter_than_the_acceptance_delay_are_rejected(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    _, heard = build(debounce_ms=10, acceptance_ms=150)
    pin = mock_factory.pin(17)
    for _ in range(3):
        start = time.monotonic()
        pin.drive_low()
        at(start + 0.04)
        pin.drive_high()
        at(start + 0.1)
    assert heard.wait_for(lambda e: len(e) == 3) == [("rejected", TOO_SHORT)] * 3
    assert not mock_factory.pin(5).state, "no note, no light"
    # A deliberate press, held past the delay, sounds once the delay has passed.
    pressed_at = time.monotonic()
    pin.drive_low()
    heard.wait_for(lambda e: ("press", "big-red") in e)
    assert heard.log[-1][3] - pressed_at >= 0.15
    assert mock_factory.pin(5).state


def test_a_press_within_the_lockout_is_rejected_and_its_release_is_silent(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    _, heard = build(debounce_ms=0, lockout_ms=10000)
    pin = mock_factory.pin(17)
    pin.drive_low()
    pin.drive_high()
    pin.drive_low()
    pin.drive_high()
    assert heard.events() == [
        ("press", "big-red"), ("release", "big-red"), ("rejected", LOCKOUT)
    ]


def test_drop_outs_within_the_release_tolerance_keep_the_note(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    _, heard = build(debounce_ms=5, release_tolerance_ms=100)
    pin, led = mock_factory.pin(17), mock_factory.pin(5)
    start = time.monotonic()
    pin.drive_low()
    at(start + 0.05)
    pin.drive_high()  # a worn switch loses contact for 30 ms
    at(start + 0.08)
    pin.drive_low()
    at(start + 0.2)
    assert heard.events() == [("press", "big-red")]
    assert led.state
    pin.drive_high()
    assert heard.wait_for(lambda e: len(e) == 2) == [("press", "big-red"), ("release", "big-red")]
    assert not led.state


def test_latch_turns_the_note_on_with_one_press_and_off_with_the_next(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    _, heard = build(debounce_ms=0, mode="latch")
    pin, led = mock_factory.pin(17), mock_factory.pin(5)
    pin.drive_low()
    pin.drive_high()
    assert heard.events() == [("press", "big-red")]
    assert led.state, "the note goes on after the switch is let go"
    pin.drive_low()
    pin.drive_high()
    assert heard.events() == [("press", "big-red"), ("release", "big-red")]
    assert not led.state


def test_a_timed_note_ends_by_itself_while_the_switch_is_still_held(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    _, heard = build(debounce_ms=0, mode="timed", timed_ms=100)
    pin, led = mock_factory.pin(17), mock_factory.pin(5)
    pin.drive_low()
    assert led.state
    heard.wait_for(lambda e: len(e) == 2)
    assert not led.state
    release_at, press_at = heard.log[1][3], heard.log[0][3]
    assert release_at - press_at == pytest.approx(0.1)
    pin.drive_high()
    assert heard.events() == [("press", "big-red"), ("release", "big-red")]


def test_a_stuck_switch_is_released_reported_and_works_again_once_let_go(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    board, heard = build(debounce_ms=0)
    # The config allows no less than a second; the filter itself takes any time.
    switch = board.switches["big-red"]
    switch.apply(type(switch.filter.settings)(debounce=0.0, stuck=0.2))
    pin, led = mock_factory.pin(17), mock_factory.pin(5)
    pin.drive_low()
    events = heard.wait_for(lambda e: ("rejected", STUCK) in e)
    assert events == [("press", "big-red"), ("release", "big-red"), ("rejected", STUCK)]
    assert not led.state, "the station let go of the note"
    assert switch.filter.holding, "the input is ignored until it is let go"
    pin.drive_high()
    pin.drive_low()
    assert heard.events()[-1] == ("press", "big-red"), "after letting go it plays again"
    pin.drive_high()


def test_a_new_profile_while_held_leaves_no_note_hanging(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    board, heard = build(debounce_ms=0)
    pin, led = mock_factory.pin(17), mock_factory.pin(5)
    pin.drive_low()
    board.apply(AccessSection(debounce_ms=0, mode="latch"))
    assert heard.events() == [("press", "big-red"), ("release", "big-red")]
    assert not led.state
    pin.drive_high()
    assert len(heard.events()) == 2, "the old press is over; its release does nothing"
    pin.drive_low()
    pin.drive_high()
    assert heard.events()[-1] == ("press", "big-red")
    assert led.state, "the new profile's latch holds the note"


def test_new_numbers_while_held_carry_the_note_to_its_release(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    board, heard = build(debounce_ms=0)
    pin = mock_factory.pin(17)
    pin.drive_low()
    board.apply(AccessSection(debounce_ms=0, lockout_ms=500))
    assert heard.events() == [("press", "big-red")]
    pin.drive_high()
    assert heard.events() == [("press", "big-red"), ("release", "big-red")]


def test_client_settings_per_input_override_the_station_defaults(mock_factory: Any) -> None:
    inputs = [
        InputConfig(name="big-red", pin=17, access=AccessOverride(debounce_ms=5, lockout_ms=9)),
        InputConfig(name="head-switch", pin=23, access=AccessOverride(acceptance_ms=100)),
    ]
    profile = AccessSection(
        lockout_ms=300, inputs={"head-switch": AccessOverride(acceptance_ms=250, mode="latch")}
    )
    board = SwitchBoard(inputs, profile, Heard(), mock_factory, simulate=False)
    try:
        red = board.switches["big-red"].filter.settings
        head = board.switches["head-switch"].filter.settings
        assert (red.debounce, red.lockout, red.acceptance) == (0.005, 0.3, 0.0)
        assert (head.debounce, head.lockout, head.acceptance, head.mode) == (
            0.02, 0.3, 0.25, "latch"
        )
    finally:
        board.close()


def test_the_scheduler_keeps_going_when_a_tick_fails() -> None:
    ticked = threading.Event()

    class Failing:
        def tick(self, now: float) -> float:
            raise RuntimeError("a listener failed")

    class Working:
        def tick(self, now: float) -> float:
            ticked.set()
            return float("inf")

    scheduler = DeadlineScheduler()
    try:
        scheduler.wake(Failing(), time.monotonic())
        scheduler.wake(Working(), time.monotonic() + 0.01)
        assert ticked.wait(WAIT)
    finally:
        scheduler.close()


def test_a_switch_wired_active_high_presses_on_a_high_level(
    board: Any, mock_factory: Any
) -> None:
    _made, heard = board
    mock_factory.pin(27).drive_high()
    assert heard.events() == [("press", "low-switch")]


def test_simulated_lines_drive_the_mock_pins(board: Any, mock_factory: Any) -> None:
    made, heard = board
    simulated = SimulatedSwitches(made, mock_factory)
    errors: list[str] = []

    class Errors:
        def write(self, text: str) -> None:
            errors.append(text)

        def flush(self) -> None:
            pass

    read_lines(simulated, iter(["press sim-key\n", "jump big-red\n", "press nobody\n", "\n"]),
               Errors())  # type: ignore[arg-type]
    assert heard.events() == [("press", "sim-key")], "a keyboard-only input gets a spare pin"
    text = "".join(errors)
    assert ("cannot read 'jump big-red'; write 'press NAME', 'release NAME' or "
            "'set NAME 0.5'") in text
    assert "no input named 'nobody'; inputs: big-red, low-switch, sim-key" in text


def test_simulated_release_of_unknown_input_raises_input_error(
    board: Any, mock_factory: Any
) -> None:
    made, _ = board
    with pytest.raises(InputError, match="no input named 'ghost'"):
        SimulatedSwitches(made, mock_factory).release("ghost")


def test_a_new_client_changes_only_the_inputs_their_profile_names(
    build: Callable[..., tuple[SwitchBoard, Heard]], mock_factory: Any
) -> None:
    board, heard = build(debounce_ms=0)
    red, low = mock_factory.pin(17), mock_factory.pin(27)
    red.drive_low()
    low.drive_high()  # wired active-high: pressed
    board.apply(AccessSection(debounce_ms=0, inputs={"big-red": AccessOverride(mode="timed")}))
    assert heard.events() == [
        ("press", "big-red"), ("press", "low-switch"), ("release", "big-red")
    ], "the re-moded input lets go of its note; the other plays on"
    assert board.switches["big-red"].filter.settings.mode == "timed"
    assert board.switches["low-switch"].filter.settings.mode == "momentary"
    low.drive_low()
    red.drive_high()
    assert heard.events()[-1] == ("release", "low-switch")
    assert not any(switch.filter.sounding for switch in board.switches.values())


def test_an_led_that_shows_the_switch_lights_before_the_acceptance_delay_has_passed(
    mock_factory: Any,
) -> None:
    item = InputConfig(name="big-red", pin=17, led_pin=5, led_shows="switch")
    heard = Heard()
    board = SwitchBoard([item], AccessSection(debounce_ms=10, acceptance_ms=300), heard,
                        mock_factory, simulate=False)
    try:
        pin, led = mock_factory.pin(17), mock_factory.pin(5)
        pin.drive_low()
        assert led.state, "the client sees the switch is registering"
        assert heard.events() == [], "while the note waits for the acceptance delay"
        heard.wait_for(lambda e: e == [("press", "big-red")])
        pin.drive_high()
        heard.wait_for(lambda e: len(e) == 2)
        assert not led.state
    finally:
        board.close()
