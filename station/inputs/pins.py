"""Choosing the gpiozero pin factory: the one place the station picks a GPIO backend."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from station.errors import PinFactoryError

log = logging.getLogger(__name__)

MODEL_FILE = Path("/proc/device-tree/model")


def board_model() -> str:
    """The board's model string ('' when this is not a single-board computer)."""
    try:
        return MODEL_FILE.read_text(errors="replace").rstrip("\x00\n")
    except OSError:
        return ""


def _load(name: str) -> Any:
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    raise PinFactoryError(
        f"gpio.pin_factory: no pin factory {name!r}; allowed: auto, lgpio, rpigpio, mock"
    )


def make_pin_factory(choice: str, simulate: bool) -> tuple[Any, str]:
    """(factory, its name) for config value `choice`; mock whenever `simulate` is set.

    ``auto`` takes ``$GPIOZERO_PIN_FACTORY`` if set, else lgpio, else RPi.GPIO, and on a machine
    that is not a Raspberry Pi falls back to the mock factory (simulation).
    """
    if simulate:
        return _load("mock"), "mock"
    if choice == "auto":
        from_environment = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
        if from_environment:
            choice = from_environment.replace("rpi.gpio", "rpigpio")
    if choice != "auto":
        try:
            return _load(choice), choice
        except PinFactoryError:
            raise
        except Exception as error:
            model = board_model() or "this machine"
            advice = (
                "set gpio.pin_factory = \"lgpio\" (the only one that works on a Pi 5)"
                if choice != "lgpio"
                else "install lgpio (Debian package python3-lgpio) or run with --simulate"
            )
            raise PinFactoryError(
                f"gpio.pin_factory {choice!r} cannot load on {model}: {error}; {advice}"
            ) from error
    for name in ("lgpio", "rpigpio"):
        try:
            return _load(name), name
        except Exception as error:  # any import or hardware error means: not this one
            log.debug("pin factory %s unavailable: %s", name, error)
    if "Raspberry Pi" in board_model():
        raise PinFactoryError(
            "no GPIO pin factory loads on this Raspberry Pi; install lgpio "
            "(Debian package python3-lgpio) or set gpio.pin_factory"
        )
    log.warning("no GPIO on this machine: simulating the inputs")
    return _load("mock"), "mock"
