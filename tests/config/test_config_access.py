"""Access settings and controls in the config files: what staff see when they are wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from station.config import AccessOverride, AccessSettings, InputConfig, load_station
from station.errors import ConfigError
from station.inputs.access import LATCH
from tests.conftest import SHIPPED_CONFIG


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path.resolve() / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


def problems_of(station_file: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_station(station_file)
    return caught.value.problems


def append(file: Path, text: str) -> Path:
    file.write_text(file.read_text(encoding="utf-8") + text, encoding="utf-8")
    return file


def test_the_shipped_tremor_profile_layers_over_the_station_inputs(config_dir: Path) -> None:
    loaded = load_station(config_dir / "station.toml")
    inputs = {item.name: item for item in loaded.config.inputs}
    profile = loaded.clients["C-2M9Q"].access
    red = AccessSettings.for_input(inputs["big-red"], profile)
    head = AccessSettings.for_input(inputs["head-switch"], profile)
    assert (red.debounce, red.acceptance, red.lockout, red.mode) == (0.03, 0.08, 0.25, "momentary")
    assert head.mode == LATCH, "the client's per-input table wins"


def test_the_filter_defaults_are_the_built_in_file_settings_in_seconds() -> None:
    assert AccessSettings() == AccessSettings.layered(), "one set of defaults, not two"
    settings = AccessSettings.layered(AccessOverride(debounce_ms=30, timed_ms=500, stuck_s=5))
    assert (settings.debounce, settings.timed, settings.stuck) == (0.03, 0.5, 5.0)


@pytest.mark.parametrize(
    ("client_text", "problem"),
    [
        pytest.param(
            '\n[access.inputs.head-swich]\nmode = "latch"\n',
            "access.inputs.head-swich: no play input 'head-swich' in the station file; play "
            "inputs: big-red, big-blue, big-yellow, head-switch; did you mean 'head-switch'?",
            id="unknown-input",
        ),
        pytest.param(
            '\n[access.inputs.big-red]\nmode = "latched"\n',
            "access.inputs.big-red.mode: 'latched' is not allowed; allowed: momentary, latch, "
            "timed; did you mean 'latch'?",
            id="unknown-mode",
        ),
        pytest.param(
            "\n[access.inputs.big-red]\nacceptance_ms = 10\n",
            "access.inputs.big-red.acceptance_ms: 10 is shorter than debounce_ms 20; a press is "
            "only known to be held once its debounce window has passed: use 0 or at least 20",
            id="acceptance-inside-the-debounce-window",
        ),
        pytest.param(
            "\n[access.inputs.big-red]\nstuck_s = 0.5\n",
            "access.inputs.big-red.stuck_s: Input should be greater than or equal to 1; got 0.5",
            id="stuck-guard-too-short",
        ),
    ],
)
def test_client_access_problems_name_the_file_and_key(
    config_dir: Path, client_text: str, problem: str
) -> None:
    client = append(config_dir / "clients/C-7F3K.toml", client_text)
    assert problems_of(config_dir / "station.toml") == [f"{client}: {problem}"]


def test_a_station_input_default_that_clashes_with_a_client_is_named(config_dir: Path) -> None:
    station = config_dir / "station.toml"
    text = station.read_text(encoding="utf-8").replace(
        'name = "big-red"', 'name = "big-red"\naccess = { stuck_s = 1 }'
    )
    station.write_text(text, encoding="utf-8")
    client = config_dir / "clients/C-7F3K.toml"
    lines = client.read_text(encoding="utf-8").replace("acceptance_ms = 0 ", "acceptance_ms = 1500")
    client.write_text(
        "\n".join(line for line in lines.splitlines() if not line.startswith("stuck_s")),
        encoding="utf-8",
    )
    assert problems_of(station) == [
        f"{client}: access (input 'big-red').acceptance_ms: 1500 is not shorter than the "
        "stuck-switch guard (stuck_s = 1); no press could ever be accepted"
    ]


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        pytest.param(
            'name = "vol"\npin = 4\nrole = "control"\n',
            "inputs[vol].action: a control needs an action; allowed: volume-up, volume-down, "
            "volume, next-sound-set, previous-sound-set, session, cue, activity",
            id="control-without-action",
        ),
        pytest.param(
            'name = "vol"\npin = 4\naction = "volume-up"\n',
            'inputs[vol].action: only a control has an action; set role = "control" or remove '
            "action",
            id="play-with-action",
        ),
        pytest.param(
            'name = "knob"\nkind = "rotary-encoder"\npin = 4\nrole = "control"\n'
            'action = "volume"\n',
            "inputs[knob].pin_b: a rotary encoder needs its second pin (B)",
            id="encoder-without-pin-b",
        ),
        pytest.param(
            'name = "knob"\nkind = "rotary-encoder"\npin = 4\npin_b = 17\nrole = "control"\n'
            'action = "volume"\n',
            "inputs[knob].pin_b: pin GPIO17 is already used by input 'big-red'",
            id="encoder-pin-b-in-use",
        ),
        pytest.param(
            'name = "box"\nkind = "usb-switch"\ndevice = "Acme Switch Interface"\n'
            'code = "KEY_SPCE"\nslot = 5\n',
            "inputs[box].code: no key or button 'KEY_SPCE'; did you mean 'KEY_SPACE'?",
            id="usb-switch-unknown-code",
        ),
        pytest.param(
            'name = "box"\nkind = "usb-switch"\ncode = "BTN_0"\npin = 4\n',
            "inputs[box].pin: a usb-switch has no GPIO pin; remove pin\n"
            "inputs[box].device: a usb-switch needs its device name (as `evtest` lists it)",
            id="usb-switch-with-pin-and-no-device",
        ),
        pytest.param(
            'name = "vol"\npin = 4\nrole = "control"\naction = "volume"\n',
            'inputs[vol].action: action "volume" goes with kind "rotary-encoder" (and an '
            "encoder only does volume); buttons use volume-up / volume-down",
            id="volume-on-a-button",
        ),
    ],
)
def test_control_and_usb_inputs_are_checked(
    config_dir: Path, table: str, problem: str
) -> None:
    station = append(config_dir / "station.toml", f"\n[[inputs]]\n{table}")
    assert problems_of(station) == [f"{station}: {line}" for line in problem.splitlines()]


def test_a_session_control_waits_for_a_two_second_press_unless_told_otherwise() -> None:
    session = InputConfig(name="session", pin=4, role="control", action="session")
    assert AccessSettings.for_input(session, None).acceptance == 2.0
    quick = InputConfig.model_validate(
        {"name": "session", "pin": 4, "role": "control", "action": "session",
         "access": {"acceptance_ms": 3000}}
    )
    assert AccessSettings.for_input(quick, None).acceptance == 3.0


def test_the_status_led_pin_counts_as_used(config_dir: Path) -> None:
    station = config_dir / "station.toml"
    text = station.read_text(encoding="utf-8").replace(
        "status_led_pin = 12", "status_led_pin = 17"
    )
    station.write_text(text, encoding="utf-8")
    assert problems_of(station) == [
        f"{station}: inputs[big-red].pin: pin GPIO17 is already used by controls.status_led_pin"
    ]
