"""Switches on gpiozero's MockFactory: what counts as a press, and what is rejected."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from station.config import InputConfig
from station.errors import InputError
from station.inputs.access import AccessFilter, AccessSettings, Decision
from station.inputs.simulate import SimulatedSwitches, read_lines
from station.inputs.switches import Switch, SwitchBoard


@dataclass
class Heard:
    """A PressListener that keeps what the station decided, for the test to check."""

    presses: list[str] = field(default_factory=list)
    releases: list[tuple[str, float]] = field(default_factory=list)
    rejections: list[tuple[str, str]] = field(default_factory=list)
    released_event: threading.Event = field(default_factory=threading.Event)

    def pressed(self, switch: Switch, at: float) -> None:
        self.presses.append(switch.name)

    def released(self, switch: Switch, at: float, held_seconds: float) -> None:
        self.releases.append((switch.name, held_seconds))
        self.released_event.set()

    def rejected(self, switch: Switch, reason: str, at: float) -> None:
        self.rejections.append((switch.name, reason))


INPUTS = [
    InputConfig(name="big-red", pin=17, led_pin=5, slot=1, key="a"),
    InputConfig(name="low-switch", kind="adaptive-switch", pin=27, pull_up=False, slot=2),
    InputConfig(name="sim-key", kind="keyboard", slot=3, key="k"),
]


@pytest.fixture
def board(mock_factory: Any) -> Any:
    heard = Heard()
    made = SwitchBoard(INPUTS, AccessSettings(debounce=0.02, lockout=0.0), heard, mock_factory,
                       simulate=True)
    yield made, heard
    made.close()


def test_contact_chatter_on_the_first_edge_counts_as_one_press() -> None:
    access = AccessFilter(AccessSettings(debounce=0.020))
    decisions = [access.edge(True, 10.0)]
    # 1 kHz bounce for 5 ms after the first edge.
    for step in range(1, 10):
        decisions.append(access.edge(step % 2 == 0, 10.0 + step * 0.0005))
    decisions.append(access.edge(False, 10.3))

    assert decisions[0] is Decision.PRESS, "the first edge acts at once, with no added delay"
    assert decisions.count(Decision.PRESS) == 1
    assert decisions[-1] is Decision.RELEASE


def test_press_within_lockout_is_rejected_with_reason_and_its_release_is_silent() -> None:
    access = AccessFilter(AccessSettings(debounce=0.02, lockout=0.5))
    assert access.edge(True, 1.0) is Decision.PRESS
    assert access.edge(False, 1.1) is Decision.RELEASE
    assert access.edge(True, 1.3) is Decision.LOCKOUT
    assert access.edge(False, 1.4) is Decision.IGNORED
    assert access.edge(True, 1.6) is Decision.PRESS, "after the lockout presses count again"


def test_gpio_press_is_heard_once_and_lights_the_led(board: Any, mock_factory: Any) -> None:
    _made, heard = board
    pin = mock_factory.pin(17)
    led = mock_factory.pin(5)
    pin.drive_low()
    assert heard.presses == ["big-red"]
    assert led.state, "the LED is lit while the input sounds"
    pin.drive_high()
    assert heard.released_event.wait(1), "the release arrives after the debounce window"
    assert not led.state
    assert [name for name, _ in heard.releases] == ["big-red"]


def test_a_tap_shorter_than_the_debounce_window_still_ends_its_note(
    board: Any, mock_factory: Any
) -> None:
    _made, heard = board
    pin = mock_factory.pin(17)
    pin.drive_low()
    pin.drive_high()  # inside the window: the filter must catch up when the window ends
    assert heard.released_event.wait(1), "a swallowed release would leave the note hanging"
    assert heard.presses == ["big-red"]


def test_a_switch_wired_active_high_presses_on_a_high_level(
    board: Any, mock_factory: Any
) -> None:
    _made, heard = board
    mock_factory.pin(27).drive_high()
    assert heard.presses == ["low-switch"]


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
    assert heard.presses == ["sim-key"], "a keyboard-only input gets a spare mock pin"
    text = "".join(errors)
    assert "cannot read 'jump big-red'; write 'press NAME' or 'release NAME'" in text
    assert "no input named 'nobody'; inputs: big-red, low-switch, sim-key" in text


def test_simulated_release_of_unknown_input_raises_input_error(
    board: Any, mock_factory: Any
) -> None:
    made, _ = board
    with pytest.raises(InputError, match="no input named 'ghost'"):
        SimulatedSwitches(made, mock_factory).release("ghost")


def test_new_access_settings_apply_from_the_next_edge(board: Any, mock_factory: Any) -> None:
    made, heard = board
    made.apply(AccessSettings(debounce=0.0, lockout=60.0))
    pin = mock_factory.pin(17)
    pin.drive_low()
    pin.drive_high()
    pin.drive_low()
    assert heard.presses == ["big-red"]
    assert heard.rejections == [("big-red", "lockout")]
