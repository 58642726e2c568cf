"""What staff see when a config file is wrong: one `FILE: section.key: message` line per problem.

Each test copies the shipped ``config/`` folder into tmp_path and breaks one thing (or several),
so that every message is checked against the files a therapist actually edits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from station.config import StationConfig, check_files, effective_config, load_station
from station.config.loading import apply_overrides
from station.errors import ConfigError
from tests.conftest import edit

SCALE_NAMES = (
    "major, natural-minor, major-pentatonic, minor-pentatonic, blues, dorian, mixolydian, "
    "whole-tone, chromatic"
)
SHIPPED_SOUND_SETS = (
    "call-and-response, calm-bells, chord-pads, drum-circle, slow-swell, soundscape, "
    "twinkle-song, warm-strings"
)
INSTRUMENTS = "bell, pad, pluck, mallet, sine, drone, drums, sampler"
NOT_A_PSEUDONYM = (
    "is not a client pseudonym; use a code like 'C-7F3K' "
    "(capital letters and digits around one hyphen), never a real name"
)


def problems_of(station_file: Path, overrides: Sequence[str] = ()) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_station(station_file, overrides)
    return caught.value.problems


def unknown_bell_problem(sound_set_file: Path) -> str:
    return (
        f"{sound_set_file}: sound_set.instrument: no instrument 'bel'; allowed: {INSTRUMENTS}; "
        "did you mean 'bell'?"
    )


# --------------------------------------------------------------------------------------
# The station file


def test_the_shipped_config_loads(config_dir: Path) -> None:
    loaded = load_station(config_dir / "station.toml")

    assert loaded.client.client.pseudonym == "C-7F3K"
    assert loaded.sound_set.sound_set.name == "calm-bells"
    assert sorted(loaded.sound_sets) == SHIPPED_SOUND_SETS.split(", ")
    assert sorted(loaded.clients) == ["C-2M9Q", "C-7F3K"]


def test_a_missing_station_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "station.toml"

    assert problems_of(missing) == [f"{missing}: file not found"]


def test_a_toml_syntax_error_gives_line_and_column(config_dir: Path) -> None:
    station = edit(config_dir / "station.toml", "port = 1883", "port = = 1883")
    line = station.read_text(encoding="utf-8").splitlines().index("port = = 1883") + 1

    assert problems_of(station) == [
        f"{station}: line {line}, column 8: TOML syntax error: Invalid value"
    ]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            "port = 1883", 'port = "1883"',
            "mqtt.port: Input should be a valid integer; got '1883'",
            id="wrong-type",
        ),
        pytest.param(
            "buffer_size = 64", "bufer_size = 64",
            "audio.bufer_size: unknown key; did you mean 'buffer_size'? "
            "(allowed: backend, sample_rate, buffer_size, channels, output_device)",
            id="unknown-key",
        ),
        pytest.param(
            "buffer_size = 64", "buffer_size = 8",
            "audio.buffer_size: Input should be greater than or equal to 16; got 8",
            id="out-of-range",
        ),
        pytest.param(
            'backend = "auto"', 'backend = "jak"',
            "audio.backend: 'jak' is not allowed; allowed: auto, jack, portaudio, null; "
            "did you mean 'jack'?",
            id="unknown-literal",
        ),
        pytest.param(
            "pin = 27", "pin = 17",
            "inputs[big-blue].pin: pin GPIO17 is already used by input 'big-red'",
            id="two-inputs-on-one-pin",
        ),
        pytest.param(
            "led_pin = 6", "led_pin = 17",
            "inputs[big-blue].led_pin: pin GPIO17 is already used by input 'big-red'",
            id="led-on-an-input-pin",
        ),
        pytest.param(
            "led_pin = 13", "led_pin = 23",
            "inputs[head-switch].pin: pin GPIO23 is already used by input 'big-yellow' (LED)",
            id="input-on-an-led-pin",
        ),
        pytest.param(
            'sound_set = "calm-bells"', 'sound_set = "calm-bell"',
            "station.sound_set: no sound set 'calm-bell' in sound-sets; "
            f"available: {SHIPPED_SOUND_SETS}; did you mean 'calm-bells'?",
            id="sound-set-not-in-folder",
        ),
        pytest.param(
            'client = "C-7F3K"', 'client = "C-9ZZZ"',
            "station.client: no client profile 'C-9ZZZ' in clients; available: C-2M9Q, C-7F3K",
            id="client-not-in-folder",
        ),
        pytest.param(
            'client = "C-7F3K"', 'client = "Anna Schmidt"',
            f"station.client: 'Anna Schmidt' {NOT_A_PSEUDONYM}",
            id="real-name-as-client",
        ),
    ],
)
def test_a_station_file_problem_names_file_key_and_value(
    config_dir: Path, old: str, new: str, problem: str
) -> None:
    station = edit(config_dir / "station.toml", old, new)

    assert problems_of(station) == [f"{station}: {problem}"]


def test_an_empty_sound_set_folder_is_reported_not_accepted(config_dir: Path) -> None:
    for file in (config_dir / "sound-sets").glob("*.toml"):
        file.unlink()
    station = config_dir / "station.toml"

    assert problems_of(station) == [
        f"{station}: station.sound_set: no sound set 'calm-bells' in sound-sets; available: none"
    ]


# --------------------------------------------------------------------------------------
# Sound-set and client files, as found through the station file


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        pytest.param(
            "sound-sets/calm-bells.toml", 'instrument = "bell"', 'instrument = "bel"',
            f"sound_set.instrument: no instrument 'bel'; allowed: {INSTRUMENTS}; "
            "did you mean 'bell'?",
            id="unknown-instrument",
        ),
        pytest.param(
            "sound-sets/warm-strings.toml", 'scale = "dorian"', 'scale = "dorain"',
            f"sound_set.scale: no scale 'dorain'; allowed: {SCALE_NAMES}; "
            "did you mean 'dorian'?",
            id="unknown-scale",
        ),
        pytest.param(
            "clients/C-2M9Q.toml", "volume_ceiling_dbfs = -18.0", "volume_ceiling_dbfs = 6",
            "client.volume_ceiling_dbfs: Input should be less than or equal to 0; got 6",
            id="volume-ceiling-above-0-dbfs",
        ),
        pytest.param(
            "clients/C-7F3K.toml", 'inputs = ["big-red"]', 'inputs = ["big-rde"]',
            "goals[answers-the-call].inputs: no play input 'big-rde' in the station file; "
            "play inputs: "
            "big-red, big-blue, big-yellow, head-switch; did you mean 'big-red'?",
            id="goal-names-an-unknown-input",
        ),
        pytest.param(
            "clients/C-7F3K.toml", 'prompt_at_most = "independent"',
            'prompt_at_most = "verbal-prompt"',
            "goals[answers-the-call].prompt_at_most: 'verbal-prompt' is not allowed; allowed: "
            "independent, gestural, verbal, model, partial-physical, full-physical; did you "
            "mean 'verbal'?",
            id="goal-prompt-level-unknown",
        ),
        pytest.param(
            "clients/C-7F3K.toml", 'name = "stays-engaged"', 'name = "answers-the-call"',
            "goals[#2].name: 'answers-the-call' is the name of an earlier goal; give each "
            "goal a name of its own",
            id="goal-names-twice",
        ),
        pytest.param(
            "sound-sets/calm-bells.toml", "octave = 1\n",
            'octave = 1\n\n[cue]\ninstrument = "drums"\n',
            "cue.instrument: no melodic instrument 'drums'; allowed: bell, pad, pluck, mallet, "
            "sine",
            id="cue-on-a-drum",
        ),
        pytest.param(
            "activities/head-switch-slow.toml", 'targets = ["head-switch"]',
            'targets = ["head-swich"]',
            "activity.targets: no play input 'head-swich' in the station file; play inputs: "
            "big-red, big-blue, big-yellow, head-switch; did you mean 'head-switch'?",
            id="activity-names-an-unknown-input",
        ),
        pytest.param(
            "clients/C-7F3K.toml", 'activity = "play-when-you-hear"',
            'activity = "play-when-you-here"',
            "client.activity: no activity 'play-when-you-here' in activities; available: "
            "call-and-response, head-switch-slow, play-when-you-hear; did you mean "
            "'play-when-you-hear'?",
            id="client-activity-unknown",
        ),
        pytest.param(
            "activities/call-and-response.toml", "window_seconds = 8.0", "window_seconds = 90.0",
            "activity.window_seconds: Input should be less than or equal to 60; got 90.0",
            id="activity-window-too-long",
        ),
    ],
)
def test_a_sound_set_or_client_problem_names_its_own_file(
    config_dir: Path, file: str, old: str, new: str, problem: str
) -> None:
    broken = edit(config_dir / file, old, new)

    assert problems_of(config_dir / "station.toml") == [f"{broken}: {problem}"]


@pytest.mark.parametrize("name", ["Anna Schmidt", "anna", "Schmidt-A", "A.Schmidt"])
def test_a_pseudonym_that_looks_like_a_real_name_is_refused(
    config_dir: Path, name: str
) -> None:
    client = edit(config_dir / "clients/C-2M9Q.toml", '"C-2M9Q"', f'"{name}"')

    assert [str(problem) for problem in check_files([client])] == [
        f"{client}: client.pseudonym: {name!r} {NOT_A_PSEUDONYM}"
    ]


# --------------------------------------------------------------------------------------
# Every problem, in every file, at once


def test_every_problem_in_every_file_is_reported_together(config_dir: Path) -> None:
    station = edit(config_dir / "station.toml", "port = 1883", 'port = "1883"')
    edit(station, "buffer_size = 64", "bufer_size = 64")
    bells = edit(config_dir / "sound-sets/calm-bells.toml", 'instrument = "bell"',
                 'instrument = "bel"')
    strings = edit(config_dir / "sound-sets/warm-strings.toml", "volume = 0.7", "volume = 1.5")
    client = edit(config_dir / "clients/C-2M9Q.toml", "volume_ceiling_dbfs = -18.0",
                  "volume_ceiling_dbfs = 6")

    assert problems_of(station) == [
        f"{station}: audio.bufer_size: unknown key; did you mean 'buffer_size'? "
        "(allowed: backend, sample_rate, buffer_size, channels, output_device)",
        f"{station}: mqtt.port: Input should be a valid integer; got '1883'",
        unknown_bell_problem(bells),
        f"{strings}: sound_set.volume: Input should be less than or equal to 1; got 1.5",
        f"{client}: client.volume_ceiling_dbfs: Input should be less than or equal to 0; got 6",
    ]


def test_input_clashes_and_folder_problems_are_reported_together(config_dir: Path) -> None:
    station = edit(config_dir / "station.toml", "pin = 27", "pin = 17")
    strings = edit(config_dir / "sound-sets/warm-strings.toml", "degree = 7", "degree = = 7")
    client = edit(config_dir / "clients/C-2M9Q.toml", "debounce_ms = 30", "debounce_ms = -1")
    line = strings.read_text(encoding="utf-8").splitlines().index("degree = = 7") + 1

    assert problems_of(station) == [
        f"{station}: inputs[big-blue].pin: pin GPIO17 is already used by input 'big-red'",
        f"{strings}: line {line}, column 10: TOML syntax error: Invalid value",
        f"{client}: access.debounce_ms: Input should be greater than or equal to 0; got -1",
    ]


def test_sound_sets_are_checked_in_the_folder_an_invalid_station_file_names(
    config_dir: Path,
) -> None:
    (config_dir / "sound-sets").rename(config_dir / "sets")
    station = edit(config_dir / "station.toml", 'sound_sets_dir = "sound-sets"',
                   'sound_sets_dir = "sets"')
    edit(station, "port = 1883", 'port = "1883"')
    bells = edit(config_dir / "sets/calm-bells.toml", 'instrument = "bell"', 'instrument = "bel"')

    assert problems_of(station) == [
        f"{station}: mqtt.port: Input should be a valid integer; got '1883'",
        unknown_bell_problem(bells),
    ]


def test_sound_sets_are_checked_in_the_default_folder_when_the_setting_is_not_text(
    config_dir: Path,
) -> None:
    station = edit(config_dir / "station.toml", 'sound_sets_dir = "sound-sets"',
                   "sound_sets_dir = 5")
    bells = edit(config_dir / "sound-sets/calm-bells.toml", 'instrument = "bell"',
                 'instrument = "bel"')

    assert problems_of(station) == [
        f"{station}: station.sound_sets_dir: Input should be a valid string; got 5",
        unknown_bell_problem(bells),
    ]


# --------------------------------------------------------------------------------------
# --set overrides


@pytest.mark.parametrize(
    ("override", "setting", "value"),
    [
        ("mqtt.port=1884", lambda c: c.mqtt.port, 1884),
        ("audio.backend=null", lambda c: c.audio.backend, "null"),
        ("mqtt.host = broker.local", lambda c: c.mqtt.host, "broker.local"),
        ("station.sound_set=warm-strings", lambda c: c.station.sound_set, "warm-strings"),
    ],
)
def test_a_set_override_changes_the_effective_value(
    config_dir: Path, override: str, setting: Callable[[StationConfig], object], value: object
) -> None:
    loaded = load_station(config_dir / "station.toml", [override])

    assert setting(loaded.config) == value


@pytest.mark.parametrize("override", ["nonsense", "mqtt=1884", "mqtt.port.x=1", ".port=1884"])
def test_a_malformed_set_override_is_named(override: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"mqtt": {"port": 1883}}, [override])

    assert caught.value.problems == [f"--set {override!r}: expected section.key=value"]


def test_a_set_override_into_a_list_is_refused(config_dir: Path) -> None:
    assert problems_of(config_dir / "station.toml", ["inputs.pin=4"]) == [
        "--set 'inputs.pin=4': 'inputs' is not a table"
    ]


def test_a_bad_set_value_is_checked_like_the_file(config_dir: Path) -> None:
    station = config_dir / "station.toml"

    assert problems_of(station, ["mqtt.port=99999"]) == [
        f"{station}: mqtt.port: Input should be less than or equal to 65535; got 99999"
    ]


# --------------------------------------------------------------------------------------
# The effective config, as shown to staff


def test_effective_config_masks_a_password(config_dir: Path) -> None:
    station = edit(config_dir / "station.toml", 'password = ""', 'password = "hunter2-secret"')

    shown = effective_config(load_station(station))

    assert shown["mqtt"]["password"] == "********"
    assert "hunter2-secret" not in repr(shown)


def test_effective_config_shows_an_empty_password_as_empty(config_dir: Path) -> None:
    shown = effective_config(load_station(config_dir / "station.toml"))

    assert shown["mqtt"]["password"] == ""
    assert shown["mqtt"]["keepalive"] == 30  # a default the shipped file leaves out
