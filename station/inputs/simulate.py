"""Simulated switches: drive gpiozero's mock pins from the keyboard or from piped lines.

* stdin is a terminal: each configured key presses its input; it is released 150 ms later
  (a terminal reports no key-up).
* stdin is a pipe: lines ``press NAME`` and ``release NAME``. Anything else gets one error line
  on stderr and is ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from station.errors import InputError
from station.inputs.switches import Switch, SwitchBoard

log = logging.getLogger(__name__)

KEY_RELEASE_AFTER = 0.15  # seconds a key press is held in terminal mode


class SimulatedSwitches:
    """Presses and releases switches by name through their mock pins."""

    def __init__(
        self, board: SwitchBoard, factory: Any, controls: Mapping[str, Switch] | None = None
    ) -> None:
        self._switches = {**board.switches, **(controls or {})}
        self._factory = factory

    def _pin(self, switch: Switch) -> Any:
        return self._factory.pin(switch.pin)

    def _switch(self, name: str) -> Switch:
        try:
            return self._switches[name]
        except KeyError:
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
        if len(words) != 2 or words[0] not in ("press", "release"):
            raise InputError(f"cannot read {line.strip()!r}; write 'press NAME' or 'release NAME'")
        (self.press if words[0] == "press" else self.release)(words[1])

    def keys(self) -> dict[str, str]:
        return {
            switch.config.key: name
            for name, switch in self._switches.items()
            if switch.config.key is not None
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
            name = keys.get(character)
            if name is None:
                continue
            simulated.press(name)
            # Simulation only: a timer per key press is fine here, unlike on the press path.
            timer = threading.Timer(KEY_RELEASE_AFTER, simulated.release, (name,))
            timer.daemon = True
            timer.start()


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
        announce("reading 'press NAME' / 'release NAME' lines from stdin")
        target = lambda: read_lines(simulated, stdin, sys.stderr)  # noqa: E731
    thread = threading.Thread(target=target, name="simulated-switches", daemon=True)
    thread.start()
    return thread

