"""Variable sensors in the config files: what each kind needs, shared SPI lines, a client's
calibration and the sound set's mapping, each problem naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_station
from station.errors import ConfigError
from tests.conftest import SHIPPED_CONFIG


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, folder)
    return folder


def problems(config_dir: Path, inputs: str = "", client: str = "", sound_set: str = ""
             ) -> list[str]:
    station = config_dir / "station.toml"
    station.write_text(station.read_text() + inputs)
    if client:
        profile = config_dir / "clients" / "C-7F3K.toml"
        profile.write_text(profile.read_text() + client)
    if sound_set:
        calm = config_dir / "sound-sets" / "calm-bells.toml"
        calm.write_text(calm.read_text() + sound_set)
    with pytest.raises(ConfigError) as caught:
        load_station(station)
    return [text.split(": ", 1)[1] for text in caught.value.problems]


def test_a_distance_sensor_needs_its_echo_pin_and_a_range_that_makes_sense(
    config_dir: Path,
) -> None:
    found = problems(config_dir, '''
[[inputs]]
name = "beam"
kind = "distance"
pin = 20
near_cm = 70
far_cm = 60
''')
    assert found == [
        "inputs[beam].echo_pin: a distance sensor needs its echo pin (BCM GPIO number)",
        "inputs[beam].near_cm: 70 cm is not nearer than far_cm = 60 cm",
    ]


def test_an_analog_sensor_is_read_through_the_spi_lines_no_button_may_use(
    config_dir: Path,
) -> None:
    found = problems(config_dir, '''
[[inputs]]
name = "spare"
pin = 10

[[inputs]]
name = "squeeze"
kind = "analog"
adc = "mcp3008"
channel = 0

[[inputs]]
name = "bulb"
kind = "analog"
adc = "mcp3008"
channel = 0
pin = 4
''')
    assert found == [
        "inputs[squeeze].adc: the ADC's SPI line MOSI is GPIO10, already used by input 'spare'",
        "inputs[bulb].pin: an analog sensor is read through its ADC's SPI lines (GPIO 7 to 11), "
        "not a pin of its own; remove pin",
        "inputs[bulb].channel: channel 0 of the ADC on CE0 is already read by input 'squeeze'",
        "inputs[bulb].adc: the ADC's SPI line MOSI is GPIO10, already used by input 'spare'",
    ]


def test_a_calibration_for_no_sensor_and_a_range_too_small_are_refused(
    config_dir: Path,
) -> None:
    found = problems(config_dir, client='''
[sensors.beam]
floor = 0.5
ceiling = 0.52
''')
    assert "sensors.beam.ceiling: 0.52 is not above floor = 0.5 by at least 0.05 (the " \
        "client's range would be too small to play)" in found
    assert "sensors.beam: no sensor input 'beam' in the station file; sensors: none" not in \
        found, "a profile with a problem of its own is not checked against the station"


def test_zones_play_notes_of_the_scale_so_they_need_a_note_action(config_dir: Path) -> None:
    found = problems(config_dir, sound_set='''
[[slots]]
action = "drum"
drum = "kick"
sensor = "zones"
''')
    assert any("sensor = 'zones' plays notes of the scale; set action = \"note\"" in text
               for text in found), found
