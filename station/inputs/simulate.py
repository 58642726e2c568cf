"""Simulated switches: drive gpiozero's mock pins from the keyboard or from piped lines.

* stdin is a terminal: each configured key presses its input; it is released 150 ms later
  (a terminal reports no key-up).
* stdin is a pipe: lines ``press NAME`` and ``release NAME``, and for a variable sensor
  ``set NAME 0.42`` (0 = nothing in the beam or no squeeze, 1 = nearest or hardest) or
  ``set NAME none`` (a distance sensor hears no echo). Anything else gets one error line on
  stderr and is ignored. A sensor's key raises its value by a quarter, back to 0 after 1.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from gpiozero.pins.mock import MockPin, MockSPIDevice, MockTriggerPin

from station.config import InputConfig
from station.config.station_file import SPI0_CHIP_SELECT, SPI0_PINS
from station.errors import InputError
from station.inputs.sensors import SPEED_OF_SOUND
from station.inputs.switches import Switch, SwitchBoard

log = logging.getLogger(__name__)

KEY_RELEASE_AFTER = 0.15  # seconds a key press is held in terminal mode


class SimulatedSwitches:
    """Presses and releases switches by name through their mock pins."""

    def __init__(
        self, board: SwitchBoard, factory: Any, controls: Mapping[str, Switch] | None = None,
        sensors: SensorSimulation | None = None,
    ) -> None:
        self._sensors = sensors
        sensor_names = set(sensors.names) if sensors is not None else set()
        self._switches = {name: switch for name, switch in {**board.switches,
                                                            **(controls or {})}.items()
                          if name not in sensor_names}
        self._sensor_keys = {
            item.config.key: name for name, item in board.switches.items()
            if name in sensor_names and item.config.key is not None
        }
        self._factory = factory

    def _pin(self, switch: Switch) -> Any:
        return self._factory.pin(switch.pin)

    def _switch(self, name: str) -> Switch:
        try:
            return self._switches[name]
        except KeyError:
            if self._sensors is not None and name in self._sensors.names:
                raise InputError(f"{name} is a sensor: write 'set {name} 0.5' (0 to 1, or "
                                 "none)") from None
            known = ", ".join(self._switches)
            raise InputError(f"no input named {name!r}; inputs: {known}") from None

    def press(self, name: str) -> None:
        switch = self._switch(name)
        pin = self._pin(switch)
        # A switch wired to ground with a pull-up reads low while pressed.
        pin.drive_low() if switch.config.pull_up else pin.drive_high()

    def release(self, name: str) -> None:
        switch = self._switch(name)
        pin = self._pin(switch)
        pin.drive_high() if switch.config.pull_up else pin.drive_low()

    def command(self, line: str) -> None:
        """Carry out one ``press NAME`` / ``release NAME`` line; InputError if malformed."""
        words = line.split()
        if not words:
            return
        if words[0] == "set" and len(words) == 3:
            self._set(words[1], words[2])
            return
        if len(words) != 2 or words[0] not in ("press", "release"):
            raise InputError(f"cannot read {line.strip()!r}; write 'press NAME', "
                             "'release NAME' or 'set NAME 0.5'")
        (self.press if words[0] == "press" else self.release)(words[1])

    def _set(self, name: str, text: str) -> None:
        if self._sensors is None or name not in self._sensors.names:
            raise InputError(f"set {name}: no sensor named {name!r}; sensors: "
                             f"{', '.join(self._sensors.names) if self._sensors else 'none'}")
        if text == "none":
            self._sensors.set(name, None)
            return
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"set {name} {text}: give a number from 0 to 1, or none") from None
        if not math.isfinite(value):
            raise InputError(f"set {name} {text}: give a number from 0 to 1, or none")
        self._sensors.set(name, value)

    def key(self, character: str) -> None:
        """A key of the terminal: press its switch (released shortly after) or step its
        sensor."""
        name = self._sensor_keys.get(character)
        if name is not None and self._sensors is not None:
            self._sensors.step(name)
            return
        name = self.keys().get(character)
        if name is None:
            return
        self.press(name)
        # Simulation only: a timer per key press is fine here, unlike on the press path.
        timer = threading.Timer(KEY_RELEASE_AFTER, self.release, (name,))
        timer.daemon = True
        timer.start()

    def keys(self) -> dict[str, str]:
        return {
            **{switch.config.key: name
               for name, switch in self._switches.items()
               if switch.config.key is not None},
            **self._sensor_keys,
        }


def read_lines(simulated: SimulatedSwitches, stream: IO[str], errors: IO[str]) -> None:
    """Apply lines from `stream` until it ends; report bad lines on `errors`."""
    for line in stream:
        try:
            simulated.command(line)
        except InputError as error:
            print(f"error: {error}", file=errors, flush=True)


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)

    def restore() -> None:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    # The reading thread is a daemon blocked in read() when the station exits, so its
    # `finally` never runs: restore the terminal at exit too, or the shell is left without echo.
    atexit.register(restore)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        restore()
        atexit.unregister(restore)


def read_keys(simulated: SimulatedSwitches, fd: int, stop: threading.Event) -> None:
    """Turn key presses on terminal `fd` into switch presses until `stop` is set."""
    keys = simulated.keys()
    with _cbreak(fd):
        while not stop.is_set():
            character = os.read(fd, 1).decode(errors="replace").lower()
            if not character:
                return
            if character in keys:
                simulated.key(character)


def start_driver(
    simulated: SimulatedSwitches, stop: threading.Event, announce: Callable[[str], None]
) -> threading.Thread:
    """Start reading stdin (keys on a terminal, lines from a pipe) in a daemon thread."""
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        keys = simulated.keys()
        announce(
            "keys: "
            + ", ".join(f"{key} = {name}" for key, name in sorted(keys.items()))
            + " (Ctrl-C stops)"
        )
        target: Callable[[], None] = lambda: read_keys(simulated, stdin.fileno(), stop)  # noqa: E731
    else:
        announce("reading 'press NAME' / 'release NAME' / 'set NAME 0.5' lines from stdin")
        target = lambda: read_lines(simulated, stdin, sys.stderr)  # noqa: E731
    thread = threading.Thread(target=target, name="simulated-switches", daemon=True)
    thread.start()
    return thread



# --------------------------------------------------------------------------------------
# Variable sensors in simulation: the real gpiozero devices, on mock pins that answer.

# Each key press raises a simulated sensor's value by this much, back to 0 after 1.
KEY_SENSOR_STEP = 0.25
# gpiozero gives up on an echo after 100 ms.
NO_ECHO_SECONDS = 0.2


class SimulatedAdc(MockSPIDevice):
    """An MCP3008 or MCP3208 on gpiozero's mock SPI lines, answering each conversion with the
    value set for its channel, bit by bit as the chip does."""

    def __init__(self, spi_device: int, pin_factory: Any) -> None:
        super().__init__(
            clock_pin=SPI0_PINS["SCLK"], mosi_pin=SPI0_PINS["MOSI"],
            miso_pin=SPI0_PINS["MISO"], select_pin=SPI0_CHIP_SELECT[spi_device],
            pin_factory=pin_factory,
        )
        self.fractions: dict[int, float] = {}
        self.bits: dict[int, int] = {}
        self._start: int | None = None

    def on_start(self) -> None:
        super().on_start()
        self._start = None
        # gpiozero's mock pins keep every state they had; a conversion is ~50 of them.
        for pin in (self.clock_pin, self.mosi_pin, self.miso_pin, self.select_pin):
            pin.clear_states()

    def on_bit(self) -> None:
        # The request: zeros, a start bit, single/differential, three channel bits. The answer
        # follows after one sampling clock and a null bit, most significant bit first.
        if self._start is None:
            if self.rx_buf[-1]:
                self._start = len(self.rx_buf) - 1
            return
        if len(self.rx_buf) == self._start + 5:
            channel = int("".join(str(int(bit)) for bit in self.rx_buf[-3:]), 2)
            bits = self.bits.get(channel, 10)
            code = round(self.fractions.get(channel, 0.0) * (2 ** bits - 1))
            self.tx_buf.extend([0, 0])
            self.tx_word(code, bits)


class _Unrecorded(MockPin):
    """A mock pin that keeps no history of its states (gpiozero's keeps every change, for
    tests to assert on: a sensor read all day would grow it without end). `exact_time`, when
    set, is the time the next change is stamped with."""

    exact_time: float | None = None
    _state: bool

    def _change_state(self, value: bool) -> bool:
        if self._state == value:
            return False
        self._state = value
        self._last_change = self.exact_time if self.exact_time is not None else time.monotonic()
        return True


class SimulatedEcho(_Unrecorded):
    """An HC-SR04's echo line."""


class SimulatedTrigger(_Unrecorded, MockTriggerPin):
    """gpiozero's mock HC-SR04 trigger, its echo pulse stamped exactly `echo_time` long: the
    mock's sleep overshoots by a tenth of a millisecond or more (a few centimetres), more
    on a busy machine, so a simulated hand would seem to jump about."""

    def _echo(self) -> None:
        echo = self.echo_pin
        threading.Event().wait(0.001)
        rise = time.monotonic()
        echo.exact_time = rise
        echo.drive_high()
        # Waited out as a real echo takes its time; the stamps, not the wait, give the width.
        threading.Event().wait(self.echo_time)
        echo.exact_time = rise + self.echo_time
        echo.drive_low()
        echo.exact_time = None


class SensorSimulation:
    """What the simulated sensors read: a distance sensor's echo time, an ADC channel's value.

    `wire` prepares an input's mock pins before its gpiozero device is built on them; `set`
    then moves the simulated hand (0 = nothing there or no squeeze, 1 = nearest or hardest).
    """

    def __init__(self, pin_factory: Any) -> None:
        self._factory = pin_factory
        self._inputs: dict[str, InputConfig] = {}
        self._adcs: dict[int, SimulatedAdc] = {}
        self.values: dict[str, float | None] = {}

    def wire(self, item: InputConfig) -> None:
        self._inputs[item.name] = item
        if item.kind == "distance":
            echo = self._factory.pin(item.echo_pin, pin_class=SimulatedEcho)
            self._factory.pin(item.pin, pin_class=SimulatedTrigger, echo_pin=echo)
        else:
            adc = self._adcs.get(item.spi_device)
            if adc is None:
                adc = self._adcs[item.spi_device] = SimulatedAdc(item.spi_device, self._factory)
            assert item.channel is not None
            adc.bits[item.channel] = 12 if item.adc == "mcp3208" else 10
        self.set(item.name, 0.0)

    @property
    def names(self) -> list[str]:
        return list(self._inputs)

    def set(self, name: str, value: float | None) -> None:
        """The value of sensor `name`, 0–1; None: a distance sensor hears no echo."""
        item = self._inputs.get(name)
        if item is None:
            raise InputError(f"no sensor named {name!r}; sensors: {', '.join(self._inputs)}")
        if value is not None and not 0.0 <= value <= 1.0:
            raise InputError(f"set {name}: {value:g} is outside 0 to 1")
        self.values[name] = value
        if item.kind == "distance":
            trigger = self._factory.pin(item.pin)
            if value is None:
                # An echo longer than gpiozero waits for: the reading fails as with no echo.
                trigger.echo_time = NO_ECHO_SECONDS
                return
            metres = (item.far_cm - value * (item.far_cm - item.near_cm)) / 100.0
            if value == 0.0:
                metres = item.far_cm * 1.5 / 100.0  # nothing in the beam: beyond the range
            trigger.echo_time = 2.0 * metres / SPEED_OF_SOUND
        else:
            if value is None:
                raise InputError(f"set {name} none: only a distance sensor can hear no echo")
            assert item.channel is not None
            self._adcs[item.spi_device].fractions[item.channel] = value

    def step(self, name: str) -> float:
        """The next key-press value of sensor `name`: up by KEY_SENSOR_STEP, wrapping to 0."""
        current = self.values.get(name) or 0.0
        following = round(current + KEY_SENSOR_STEP, 3)
        value = 0.0 if following > 1.0 else following
        self.set(name, value)
        return value
