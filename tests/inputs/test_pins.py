"""Choosing the pin factory on this (x86, not a Pi) machine, and what a Pi would be told."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, get_args

import pytest
from gpiozero.pins.mock import MockFactory

from station.config import load_station
from station.errors import PinFactoryError
from station.inputs import pins


@pytest.fixture(autouse=True)
def no_environment_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], None]:
    """Pretend to be a board: write its device-tree model string."""
    def make(model: str) -> None:
        path = tmp_path / "model"
        path.write_text(model + "\x00")
        monkeypatch.setattr(pins, "MODEL_FILE", path)

    return make


@pytest.fixture
def no_gpio_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine has neither lgpio nor RPi.GPIO; make sure of it whatever is installed."""
    real_load = pins._load

    def load(name: str) -> object:
        if name in ("lgpio", "rpigpio"):
            raise ImportError(f"No module named {'lgpio' if name == 'lgpio' else 'RPi'!r}")
        return real_load(name)

    monkeypatch.setattr(pins, "_load", load)


def test_simulation_always_uses_the_mock_factory() -> None:
    factory, name = pins.make_pin_factory("lgpio", simulate=True)
    assert isinstance(factory, MockFactory)
    assert name == "mock"


def test_auto_falls_back_to_the_mock_factory_off_a_pi(
    no_gpio_libraries: None, caplog: pytest.LogCaptureFixture
) -> None:
    factory, name = pins.make_pin_factory("auto", simulate=False)
    assert (type(factory), name) == (MockFactory, "mock")
    assert "no GPIO on this machine: simulating the inputs" in caplog.text


def test_rpigpio_off_a_pi_says_what_to_set_in_one_line(no_gpio_libraries: None) -> None:
    with pytest.raises(PinFactoryError) as caught:
        pins.make_pin_factory("rpigpio", simulate=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("gpio.pin_factory 'rpigpio' cannot load on this machine: ")
    assert message.endswith(
        'this is not a Raspberry Pi: run with --simulate or set gpio.pin_factory = "auto"'
    )


def test_the_real_rpigpio_import_fails_here_with_the_same_advice() -> None:
    """No stand-in: on this x86 machine gpiozero's RPi.GPIO factory really cannot load."""
    with pytest.raises(PinFactoryError, match=r"cannot load on this machine: .*--simulate"):
        pins.make_pin_factory("rpigpio", simulate=False)


def test_rpigpio_on_a_pi_5_is_told_to_use_lgpio(
    no_gpio_libraries: None, board: Callable[[str], None]
) -> None:
    board("Raspberry Pi 5 Model B Rev 1.0")
    with pytest.raises(PinFactoryError) as caught:
        pins.make_pin_factory("rpigpio", simulate=False)
    assert str(caught.value) == (
        "gpio.pin_factory 'rpigpio' cannot load on Raspberry Pi 5 Model B Rev 1.0: No module "
        "named 'RPi'; set gpio.pin_factory = \"lgpio\" (RPi.GPIO does not work on a Pi 5)"
    )


def test_a_pi_without_lgpio_is_told_to_install_it(
    no_gpio_libraries: None, board: Callable[[str], None]
) -> None:
    board("Raspberry Pi 4 Model B Rev 1.4")
    with pytest.raises(PinFactoryError, match=r"install lgpio \(Debian package python3-lgpio\)$"):
        pins.make_pin_factory("lgpio", simulate=False)
    with pytest.raises(PinFactoryError, match="no GPIO pin factory loads on this Raspberry Pi"):
        pins.make_pin_factory("auto", simulate=False)


def test_the_environment_variable_chooses_and_is_named_when_wrong(
    monkeypatch: pytest.MonkeyPatch, no_gpio_libraries: None
) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert pins.make_pin_factory("auto", simulate=False)[1] == "mock"
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "RPi.GPIO")
    with pytest.raises(PinFactoryError, match=r"^\$GPIOZERO_PIN_FACTORY 'rpigpio' cannot load"):
        pins.make_pin_factory("auto", simulate=False)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "pigpio")
    with pytest.raises(PinFactoryError) as caught:
        pins.make_pin_factory("auto", simulate=False)
    assert str(caught.value) == (
        "$GPIOZERO_PIN_FACTORY: no pin factory 'pigpio'; allowed: auto, lgpio, rpigpio, mock"
    )


def test_the_config_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_gpio_libraries: None
) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "rpigpio")
    assert pins.make_pin_factory("mock", simulate=False)[1] == "mock"


def test_every_choice_is_a_gpiozero_pin_factory_and_a_config_value(
    station_config: Any,
) -> None:
    """The names are gpiozero's (its entry points), and gpio.pin_factory offers exactly them."""
    offered = {point.name for point in entry_points(group=pins.GPIOZERO_FACTORIES)}
    assert set(pins.FACTORIES) <= offered
    assert set(pins.AUTO_ORDER) <= set(pins.FACTORIES)
    gpio = load_station(station_config()).config.gpio
    assert get_args(type(gpio).model_fields["pin_factory"].annotation) == ("auto", *pins.FACTORIES)
