"""Choosing the gpiozero pin factory: the one place the station picks a GPIO backend.

A factory is loaded by name from gpiozero's own registry, the ``gpiozero_pin_factories``
entry points through which gpiozero itself loads ``$GPIOZERO_PIN_FACTORY``, so a name means
here what it means to gpiozero. Ours are only the choices gpiozero makes differently: ``auto``
tries lgpio, then RPi.GPIO (gpiozero's own order, stopping before pigpio, which needs its
daemon, and the native factory, which gpiozero itself warns about) and off a Raspberry Pi
simulates instead of failing; and every failure names the setting that made the choice and
what to set on this board.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, get_args

from station.config.station_file import PinFactoryChoice
from station.errors import PinFactoryError

log = logging.getLogger(__name__)

MODEL_FILE = Path("/proc/device-tree/model")
GPIOZERO_FACTORIES = "gpiozero_pin_factories"  # the entry-point group gpiozero loads from
# The choices besides "auto": those the station file allows.
FACTORIES = tuple(choice for choice in get_args(PinFactoryChoice) if choice != "auto")
AUTO_ORDER = ("lgpio", "rpigpio")


def board_model() -> str:
    """The board's model string ('' when this is not a single-board computer)."""
    try:
        return MODEL_FILE.read_text(errors="replace").rstrip("\x00\n")
    except OSError:
        return ""


def _load(name: str) -> Any:
    """A new pin factory `name`, as gpiozero would build it for $GPIOZERO_PIN_FACTORY."""
    if name not in FACTORIES:
        raise PinFactoryError(
            f"gpio.pin_factory: no pin factory {name!r}; allowed: auto, {', '.join(FACTORIES)}"
        )
    found = entry_points(group=GPIOZERO_FACTORIES, name=name)
    if not found:
        raise PinFactoryError(
            f"gpiozero offers no pin factory {name!r}; reinstall the station (pip install .) "
            "to get gpiozero 2"
        )
    return next(iter(found)).load()()


def _advice(choice: str, model: str) -> str:
    """What to set instead when pin factory `choice` cannot load on board `model`."""
    if "Raspberry Pi" not in model:
        return 'this is not a Raspberry Pi: run with --simulate or set gpio.pin_factory = "auto"'
    if choice == "lgpio":
        return "install lgpio (Debian package python3-lgpio)"
    if "Raspberry Pi 5" in model:
        return 'set gpio.pin_factory = "lgpio" (RPi.GPIO does not work on a Pi 5)'
    return (
        'set gpio.pin_factory = "lgpio", or install RPi.GPIO (Debian package python3-rpi.gpio)'
    )


def make_pin_factory(choice: str, simulate: bool) -> tuple[Any, str]:
    """(factory, its name) for config value `choice`; mock whenever `simulate` is set.

    ``auto`` takes ``$GPIOZERO_PIN_FACTORY`` if set, else lgpio, else RPi.GPIO, and on a machine
    that is not a Raspberry Pi falls back to the mock factory (simulation). A factory that
    cannot load raises PinFactoryError: one line naming the setting and what to set instead.
    """
    if simulate:
        return _load("mock"), "mock"
    setting = "gpio.pin_factory"
    if choice == "auto":
        from_environment = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
        if from_environment:
            choice = from_environment.replace("rpi.gpio", "rpigpio")
            setting = "$GPIOZERO_PIN_FACTORY"
    if choice != "auto":
        try:
            return _load(choice), choice
        except PinFactoryError as error:
            raise PinFactoryError(str(error).replace("gpio.pin_factory", setting, 1)) from None
        except Exception as error:
            model = board_model()
            reason = " ".join(str(error).split()) or type(error).__name__
            raise PinFactoryError(
                f"{setting} {choice!r} cannot load on {model or 'this machine'}: {reason}; "
                f"{_advice(choice, model)}"
            ) from error
    for name in AUTO_ORDER:
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
