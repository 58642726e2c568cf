"""scripts/install-pi.sh, exercised through --dry-run so that nothing is changed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-pi.sh"
SYSTEMD_DIR = REPO_ROOT / "systemd"
CONFIG_DIR = REPO_ROOT / "config"
UNITS_TO_ENABLE = {
    "sensory-station.target",
    "sensory-station-jackd.service",
    "sensory-station-engine.service",
    "sensory-station-telemetry.service",
}


# The script asks whether systemd runs by looking for its runtime folder; these stand in for
# a booted Pi (a folder that exists) and a chroot (one that does not).
SYSTEMD_BOOTED = Path(__file__).resolve().parent
NO_SYSTEMD = SYSTEMD_BOOTED / "no-such-folder"


def run_installer(*arguments: str, systemd: Path = SYSTEMD_BOOTED
                  ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL_SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "INSTALL_PI_SYSTEMD_RUNTIME": str(systemd)},
    )


def dry_run_into(root: Path, systemd: Path = SYSTEMD_BOOTED
                 ) -> subprocess.CompletedProcess[str]:
    return run_installer(
        "--dry-run",
        "--prefix",
        str(root / "opt"),
        "--config-dir",
        str(root / "etc"),
        "--unit-dir",
        str(root / "units"),
        "--udev-dir",
        str(root / "udev"),
        systemd=systemd,
    )


def planned_commands(output: str) -> list[list[str]]:
    """The commands a dry run says it would run, split into words."""
    return [
        shlex.split(line.removeprefix("would: "))
        for line in output.splitlines()
        if line.startswith("would: ")
    ]


def announced_settings(output: str) -> dict[str, str]:
    """The name=value lines the script prints first (prefix, config-dir, ...)."""
    settings = {}
    for line in output.splitlines():
        name, separator, value = line.partition("=")
        if separator and name in {"prefix", "config-dir", "unit-dir", "source"}:
            settings[name] = value
    return settings


def unit_files_in_repo() -> set[str]:
    return {p.name for p in [*SYSTEMD_DIR.glob("*.service"), *SYSTEMD_DIR.glob("*.target")]}


def installs_into(commands: list[list[str]], directory: Path) -> set[str]:
    """Names of the files `install SRC DEST` commands would put into directory."""
    return {
        Path(command[-1]).name
        for command in commands
        if command[0] == "install" and "-d" not in command and Path(command[-1]).parent == directory
    }


def enabled_units(commands: list[list[str]]) -> set[str]:
    return {
        unit
        for command in commands
        if command[:2] == ["systemctl", "enable"]
        for unit in command[2:]
    }


def test_script_parses() -> None:
    result = subprocess.run(
        ["bash", "-n", str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_shellcheck_finds_nothing() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    result = subprocess.run(
        [shellcheck, str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_dry_run_succeeds_and_creates_nothing(tmp_path: Path) -> None:
    result = dry_run_into(tmp_path)

    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    assert "Dry run: nothing was changed." in result.stdout


def test_dry_run_prints_only_planned_actions(tmp_path: Path) -> None:
    result = dry_run_into(tmp_path)

    assert result.returncode == 0, result.stderr
    assert "running: " not in result.stdout
    assert planned_commands(result.stdout), "a fresh install plans no actions"


def test_dry_run_would_install_every_unit_file(tmp_path: Path) -> None:
    result = dry_run_into(tmp_path)
    commands = planned_commands(result.stdout)

    assert installs_into(commands, tmp_path / "units") == unit_files_in_repo()
    assert ["systemctl", "daemon-reload"] in commands


def test_dry_run_would_enable_the_target_and_both_services(tmp_path: Path) -> None:
    commands = planned_commands(dry_run_into(tmp_path).stdout)

    assert enabled_units(commands) == UNITS_TO_ENABLE


def test_dry_run_would_build_a_venv_that_sees_debian_packages(tmp_path: Path) -> None:
    commands = planned_commands(dry_run_into(tmp_path).stdout)
    venv = str(tmp_path / "opt" / "venv")

    assert ["python3", "-m", "venv", "--system-site-packages", venv] in commands
    pip_installs = [c for c in commands if c[0] == f"{venv}/bin/pip" and c[1] == "install"]
    assert len(pip_installs) == 2
    assert pip_installs[-1][-1] == f"{REPO_ROOT}[pi]"


def test_pyo_is_built_with_jack_before_the_station(tmp_path: Path) -> None:
    """pip alone takes a wheel, or builds pyo without JACK: the low-latency path would be
    missing on a Pi. The range is the one pyproject.toml asks for."""
    commands = planned_commands(dry_run_into(tmp_path).stdout)
    venv = str(tmp_path / "opt" / "venv")
    pip_installs = [c for c in commands if c[0] == f"{venv}/bin/pip" and c[1] == "install"]

    pyo_build = pip_installs[0]
    assert pyo_build[-1].startswith("pyo")
    assert pyo_build[-1] in (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert {"--no-binary", "--config-settings=--build-option=--use-jack"} <= set(pyo_build)
    assert pyo_build[pyo_build.index("--no-binary") + 1] == "pyo"


def test_gpio_devices_are_given_to_the_gpio_group(tmp_path: Path) -> None:
    commands = planned_commands(dry_run_into(tmp_path).stdout)

    assert installs_into(commands, tmp_path / "udev") == {"60-sensory-station-gpio.rules"}
    assert ["udevadm", "trigger", "--subsystem-match=gpio"] in commands
    rule = (SYSTEMD_DIR / "60-sensory-station-gpio.rules").read_text(encoding="utf-8")
    assert 'KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in rule


def test_without_systemd_units_are_enabled_but_nothing_is_started(tmp_path: Path) -> None:
    """In a chroot or an image build: systemctl enable works on the files, a reload or a
    restart would abort the script."""
    result = dry_run_into(tmp_path, systemd=NO_SYSTEMD)
    commands = planned_commands(result.stdout)

    assert result.returncode == 0, result.stderr
    assert enabled_units(commands) == UNITS_TO_ENABLE
    assert not [c for c in commands if c[0] == "udevadm"
                or (c[0] == "systemctl" and c[1] != "enable")]
    assert ("note: systemd is not running here (a chroot or an image build): the units are "
            "installed and enabled, and start on the next boot") in result.stdout


def test_a_reload_that_did_not_happen_is_done_by_the_next_run(tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    for name in unit_files_in_repo():
        shutil.copy(SYSTEMD_DIR / name, units / name)
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "systemd-reload-pending").touch()

    commands = planned_commands(dry_run_into(tmp_path).stdout)

    assert installs_into(commands, units) == set()
    assert ["systemctl", "daemon-reload"] in commands


@pytest.mark.skipif(
    "Candidate:" in subprocess.run(["apt-cache", "policy", "python3-lgpio"],
                                   capture_output=True, text=True, check=False).stdout,
    reason="this system's archive has python3-lgpio")
def test_an_archive_without_python3_lgpio_leaves_lgpio_to_pip(tmp_path: Path) -> None:
    result = dry_run_into(tmp_path)
    apt_installs = [c for c in planned_commands(result.stdout) if "apt-get" in c]

    assert result.returncode == 0, result.stderr
    assert not [c for c in apt_installs if "python3-lgpio" in c]
    assert ("note: python3-lgpio is not in this system's package archive (Raspberry Pi OS has "
            "it); pip installs lgpio instead") in result.stdout
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"lgpio>=0.2; platform_machine == \'aarch64\'' in pyproject


def test_dry_run_would_copy_the_example_config(tmp_path: Path) -> None:
    commands = planned_commands(dry_run_into(tmp_path).stdout)
    config_dir = tmp_path / "etc"

    expected_files = {p.name for p in CONFIG_DIR.glob("*.toml")}
    assert installs_into(commands, config_dir) == expected_files
    copied_dirs = {Path(c[-1]).name for c in commands
                   if c[:2] == ["cp", "-R"] and Path(c[-1]).parent == config_dir}
    assert copied_dirs == {d for d in ("sound-sets", "clients", "activities")
                           if (CONFIG_DIR / d).is_dir()}
    data_dir_edits = [c for c in commands if c[0] == "sed"]
    assert [c[-1] for c in data_dir_edits] == [str(config_dir / "dashboard.toml"),
                                               str(config_dir / "station.toml")]
    assert '"/var/lib/sensory-dashboard"' in data_dir_edits[0][-2]
    assert '"/var/lib/sensory-station"' in data_dir_edits[1][-2]
    owners = {Path(c[-1]).name: c[c.index("-g") + 1] for c in commands
              if c[0] == "install" and "-g" in c and Path(c[-1]).parent == config_dir}
    assert owners == {"dashboard.toml": "sensory-dashboard", "station.toml": "sensory-station"}


@pytest.mark.parametrize(("name", "state_dir"), [
    ("station.toml", "/var/lib/sensory-station"), ("dashboard.toml", "/var/lib/sensory-dashboard")])
def test_data_dir_edit_rewrites_the_example_file(
    tmp_path: Path, name: str, state_dir: str
) -> None:
    """Runs the exact sed the dry run prints on a copy of the example file."""
    commands = planned_commands(dry_run_into(tmp_path / "plan").stdout)
    [sed_command] = [c for c in commands if c[0] == "sed" and c[-1].endswith(name)]
    copy = tmp_path / name
    shutil.copy(CONFIG_DIR / name, copy)

    subprocess.run([*sed_command[:-1], str(copy)], check=True, timeout=10)

    original = (CONFIG_DIR / name).read_text(encoding="utf-8").splitlines()
    edited = copy.read_text(encoding="utf-8").splitlines()
    changed = [(old, new) for old, new in zip(original, edited, strict=True) if old != new]
    assert len(changed) == 1
    assert changed[0][1].startswith(f'data_dir = "{state_dir}"')


def test_second_run_leaves_installed_units_and_config_alone(tmp_path: Path) -> None:
    units = tmp_path / "units"
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True)
    for name in unit_files_in_repo():
        shutil.copy(SYSTEMD_DIR / name, units / name)
    for name in UNITS_TO_ENABLE:
        (wants / name).symlink_to(units / name)
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    for name in ("station.toml", "dashboard.toml"):
        (config_dir / name).write_text("# edited by the therapist\n", encoding="utf-8")
    for name in ("sound-sets", "clients", "activities"):
        (config_dir / name).mkdir()

    result = dry_run_into(tmp_path)
    commands = planned_commands(result.stdout)

    assert result.returncode == 0, result.stderr
    touching_ours = [c for c in commands if any(str(units) in w or str(config_dir) in w for w in c)]
    assert touching_ours == []
    assert ["systemctl", "daemon-reload"] not in commands
    assert enabled_units(commands) == set()


def test_changed_unit_file_would_be_reinstalled(tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    for name in unit_files_in_repo():
        shutil.copy(SYSTEMD_DIR / name, units / name)
    stale = units / "sensory-station-engine.service"
    stale.write_text(stale.read_text(encoding="utf-8") + "# older version\n", encoding="utf-8")

    commands = planned_commands(dry_run_into(tmp_path).stdout)

    assert installs_into(commands, units) == {"sensory-station-engine.service"}
    assert ["systemctl", "daemon-reload"] in commands


def test_units_run_what_the_installer_installs() -> None:
    """ExecStart in the units must match the script's default prefix and config dir."""
    # A dry run with the defaults only reads the system, and prints the defaults first.
    result = run_installer("--dry-run")
    assert result.returncode == 0, result.stderr
    settings = announced_settings(result.stdout)
    station = f"{settings['prefix']}/venv/bin/station"
    config = f"{settings['config-dir']}/station.toml"
    assert (station, config) == (
        "/opt/sensory-station/venv/bin/station",
        "/etc/sensory-station/station.toml",
    )

    for unit in SYSTEMD_DIR.glob("*.service"):
        if unit.name == "sensory-station-jackd.service":
            continue  # Debian's jackd, not the station
        exec_lines = [
            line.removeprefix("ExecStart=").split()
            for line in unit.read_text(encoding="utf-8").splitlines()
            if line.startswith("ExecStart=")
        ]
        assert len(exec_lines) == 1, unit.name
        [exec_start] = exec_lines
        assert exec_start[0] == station, unit.name
        # The dashboard reads a file of its own: it may run where no station does.
        expected = (f"{settings['config-dir']}/dashboard.toml"
                    if unit.name == "sensory-dashboard.service" else config)
        assert exec_start[-2:] == ["--config", expected], unit.name


def test_unknown_option_is_refused_with_a_hint(tmp_path: Path) -> None:
    result = run_installer("--dry-run", "--prefx", str(tmp_path))

    assert result.returncode == 1
    assert "unknown option '--prefx'; see --help" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_option_without_value_is_refused(tmp_path: Path) -> None:
    result = run_installer("--dry-run", "--unit-dir")

    assert result.returncode == 1
    assert "--unit-dir needs a directory argument" in result.stderr


def test_dry_run_fetches_the_dashboards_charts_and_installs_npm_only_when_missing(
    tmp_path: Path,
) -> None:
    assets = tmp_path / "opt" / "venv" / "share" / "sensory-station" / "npm"
    fetch = [["bash", str(REPO_ROOT / "scripts" / "fetch-npm-assets.sh"), str(assets), "uplot"]]
    with_npm = dry_run_into(tmp_path)
    assert [c for c in planned_commands(with_npm.stdout) if "fetch-npm-assets.sh" in " ".join(
        c)] == fetch
    assert not [c for c in planned_commands(with_npm.stdout) if "npm" in c]

    # Every command the script uses, but no npm.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for program in Path(folder).iterdir() if Path(folder).is_dir() else ():
            if program.name != "npm" and not (bin_dir / program.name).exists():
                (bin_dir / program.name).symlink_to(program)
    without_npm = subprocess.run(
        ["bash", str(INSTALL_SCRIPT), "--dry-run", "--prefix", str(tmp_path / "opt"),
         "--config-dir", str(tmp_path / "etc"), "--unit-dir", str(tmp_path / "units")],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert without_npm.returncode == 0, without_npm.stderr
    assert "npm is needed once, to fetch the dashboard's charts (uPlot); nothing uses it at " \
        "run time" in without_npm.stdout
    commands = planned_commands(without_npm.stdout)
    [npm_install] = [c for c in commands if c[-1:] == ["npm"]]
    assert npm_install[:2] == ["env", "DEBIAN_FRONTEND=noninteractive"]
    assert commands.index(npm_install) < commands.index(fetch[0])

    # Fetched already (as the script checks them): nothing to do, no npm needed.
    target = assets / "uplot-1.6.32"
    target.mkdir(parents=True)
    pinned = (REPO_ROOT / "scripts" / "fetch-npm-assets.sh").read_text(encoding="utf-8")
    (target / ".integrity").write_text(
        pinned.split('"uplot 1.6.32 ')[1].split('"')[0] + "\n", encoding="utf-8")
    again = dry_run_into(tmp_path)
    assert f"ok: the dashboard's charts (uPlot) are in {assets}" in again.stdout
    assert not [c for c in planned_commands(again.stdout) if "fetch-npm-assets.sh" in " ".join(
        c)]
