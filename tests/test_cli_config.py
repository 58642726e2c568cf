"""`station config check` / `config show` and `--help`, as staff see them in a terminal.

The CLI runs in-process (`station.cli.main`) with its output captured.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.cli import main
from tests.conftest import REPO, edit

SHIPPED_FILES = sorted((REPO / "config").glob("*/*.toml"))
CHECK_FAILED = "station: {} problem(s); fix them and check again"
RUN_FAILED = "station: the configuration has problems (above); fix them and run again"


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """`main` points root logging at the captured stderr; undo that for the tests after."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    root.setLevel(level)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    """Exit status, stdout lines and stderr lines of `station ARGV...`."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


# --------------------------------------------------------------------------------------
# config check


def test_check_passes_on_the_shipped_station_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)

    assert run(capsys, "config", "check", "config/station.toml") == (
        0, ["ok: config/station.toml"], []
    )


@pytest.mark.parametrize("file", SHIPPED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_check_passes_on_each_shipped_sound_set_and_client(
    capsys: pytest.CaptureFixture[str], file: Path
) -> None:
    assert run(capsys, "config", "check", str(file)) == (0, [f"ok: {file}"], [])


def test_shipped_sound_sets_and_clients_are_all_found() -> None:
    assert [f"{p.parent.name}/{p.name}" for p in SHIPPED_FILES] == [
        "activities/call-and-response.toml",
        "activities/head-switch-slow.toml",
        "activities/play-when-you-hear.toml",
        "clients/C-2M9Q.toml",
        "clients/C-7F3K.toml",
        "sound-sets/call-and-response.toml",
        "sound-sets/calm-bells.toml",
        "sound-sets/chord-pads.toml",
        "sound-sets/drum-circle.toml",
        "sound-sets/slow-swell.toml",
        "sound-sets/soundscape.toml",
        "sound-sets/twinkle-song.toml",
        "sound-sets/warm-strings.toml",
    ]


def test_check_on_a_missing_station_file_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "station.toml"

    assert run(capsys, "config", "check", str(missing)) == (
        1, [], [f"{missing}: file not found", CHECK_FAILED.format(1)]
    )


def test_check_prints_one_line_per_problem_then_says_to_fix_them(
    capsys: pytest.CaptureFixture[str], config_dir: Path
) -> None:
    station = edit(config_dir / "station.toml", 'backend = "auto"', 'backend = "jak"')
    edit(station, "buffer_size = 64", "buffer_size = 8")
    client = edit(config_dir / "clients/C-7F3K.toml", "volume_ceiling_dbfs = -12.0",
                  "volume_ceiling_dbfs = 6")

    assert run(capsys, "config", "check", str(station)) == (1, [], [
        f"{station}: audio.backend: 'jak' is not allowed; allowed: auto, jack, portaudio, "
        "null; did you mean 'jack'?",
        f"{station}: audio.buffer_size: Input should be greater than or equal to 16; got 8",
        f"{client}: client.volume_ceiling_dbfs: Input should be less than or equal to 0; got 6",
        CHECK_FAILED.format(3),
    ])


def test_check_detects_a_sound_set_file_and_a_client_file_passed_directly(
    capsys: pytest.CaptureFixture[str], config_dir: Path
) -> None:
    # Problems only the sound-set and the client checks report: a file taken for a station
    # file would instead get "unknown key" lines for its top-level tables.
    strings = edit(config_dir / "sound-sets/warm-strings.toml", 'scale = "dorian"',
                   'scale = "dorain"')
    client = edit(config_dir / "clients/C-2M9Q.toml", 'pseudonym = "C-2M9Q"',
                  'pseudonym = "Anna Schmidt"')

    status, out, err = run(capsys, "config", "check", str(strings), str(client))

    assert (status, out) == (1, [])
    assert err == [
        f"{strings}: sound_set.scale: no scale 'dorain'; allowed: major, natural-minor, "
        "major-pentatonic, minor-pentatonic, blues, dorian, mixolydian, whole-tone, "
        "chromatic; did you mean 'dorian'?",
        f"{client}: client.pseudonym: 'Anna Schmidt' is not a client pseudonym; use a code "
        "like 'C-7F3K' (capital letters and digits around one hyphen), never a real name",
        CHECK_FAILED.format(2),
    ]


# --------------------------------------------------------------------------------------
# config show


def test_show_prints_the_effective_config_with_the_password_masked(
    capsys: pytest.CaptureFixture[str], config_dir: Path
) -> None:
    station = edit(config_dir / "station.toml", 'password = ""', 'password = "hunter2-secret"')

    status, out, err = run(capsys, "config", "show", "--config", str(station),
                           "--set", "mqtt.port=1884")

    assert (status, err) == (0, [])
    assert out[0] == f"# effective config of {station}"
    shown = tomllib.loads("\n".join(out[1:]))
    assert shown["mqtt"]["password"] == "********"
    assert shown["mqtt"]["port"] == 1884
    assert shown["mqtt"]["keepalive"] == 30  # a default the file leaves out
    assert "hunter2-secret" not in "\n".join(out)


def test_show_never_prints_a_password_given_with_set(
    capsys: pytest.CaptureFixture[str], config_dir: Path
) -> None:
    status, out, err = run(capsys, "config", "show", "--config", str(config_dir / "station.toml"),
                           "--set", "mqtt.password=hunter2-secret")

    assert (status, err) == (0, [])
    assert 'password = "********"' in out
    assert "hunter2-secret" not in "\n".join(out)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("nonsense", "--set 'nonsense': expected section.key=value"),
        ("mqtt.port=0", "{station}: mqtt.port: Input should be greater than or equal to 1; got 0"),
    ],
)
def test_show_with_a_bad_override_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], config_dir: Path, override: str, problem: str
) -> None:
    station = config_dir / "station.toml"

    assert run(capsys, "config", "show", "--config", str(station), "--set", override) == (
        1, [], [problem.format(station=station), RUN_FAILED]
    )


def test_show_on_a_missing_station_file_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "station.toml"

    assert run(capsys, "config", "show", "--config", str(missing)) == (
        1, [], [f"{missing}: file not found", RUN_FAILED]
    )


# --------------------------------------------------------------------------------------
# --help


@pytest.mark.parametrize(
    "command",
    [(), ("run",), ("demo",), ("engine",), ("agent",), ("broker",), ("config",),
     ("config", "check"), ("config", "show")],
    ids=lambda c: " ".join(c) or "station",
)
def test_help_exits_0_and_prints_usage(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(" ".join(["usage: station", *command]))
