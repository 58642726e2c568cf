"""Reading config files, and the checks that need more than one of them.

`load_station` reads a station file with every sound set and client profile it can switch to,
collects every problem in every file, and raises one `ConfigError` listing them all.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from station.config.access import access_problems, input_access_layers, merge_access
from station.config.activity import Activity, check_activity
from station.config.client import ClientProfile, check_client
from station.config.dashboard import (
    BrokerSettings,
    DashboardConfig,
    DashboardFile,
    check_dashboard_file,
    file_broker,
    is_station_file,
    resolve,
)
from station.config.problems import Problem, did_you_mean, validate
from station.config.sound_set import SoundSet, check_sound_set
from station.config.station_file import StationConfig, StationSection, check_station_config
from station.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class LoadedStation:
    """A station file with every sound set and client profile it can switch to."""

    path: Path
    config: StationConfig
    sound_sets: Mapping[str, SoundSet]
    clients: Mapping[str, ClientProfile]
    raw: Mapping[str, Any] = field(repr=False)
    activities: Mapping[str, Activity] = field(default_factory=dict)
    # Pseudonym → the client-profile file it was read from.
    client_paths: Mapping[str, Path] = field(default_factory=dict)

    def resolve(self, relative: str) -> Path:
        """A path from the station file, relative to the folder that file is in."""
        return (self.path.parent / Path(relative).expanduser()).resolve()

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.config.station.data_dir)

    @property
    def client(self) -> ClientProfile:
        return self.clients[self.config.station.client]

    @property
    def sound_set(self) -> SoundSet:
        return self.sound_sets[self.config.station.sound_set]


def read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """The parsed file, or None with a problem naming the file (and line and column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(path, "", "file not found"))
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(path, "", f"cannot be read: {error}"))
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if where:
            message = message[: where.start()].strip()
            problems.append(Problem(
                path, f"line {where[1]}, column {where[2]}", f"TOML syntax error: {message}"
            ))
        else:
            problems.append(Problem(path, "", f"TOML syntax error: {message}"))
        return None


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``section.key=value`` overrides (value in TOML syntax, bare words taken as strings)."""
    for override in overrides:
        dotted, separator, text = override.partition("=")
        parts = dotted.strip().split(".")
        if not separator or len(parts) != 2 or not all(parts):
            raise ConfigError([Problem(None, f"--set {override!r}", "expected section.key=value")])
        try:
            value = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        section = raw.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise ConfigError(
                [Problem(None, f"--set {override!r}", f"'{parts[0]}' is not a table")]
            )
        section[parts[1]] = value
    return raw


def load_station(path: Path | str, overrides: Sequence[str] = ()) -> LoadedStation:
    """Read and check a station file and all the sound sets and clients it can use.

    Raises ConfigError listing every problem found, in every file.
    """
    problems: list[Problem] = []
    loaded = check_station(Path(path), problems, overrides)
    if loaded is None:
        raise ConfigError(problems)
    return loaded


def check_station(
    path: Path, problems: list[Problem], overrides: Sequence[str] = ()
) -> LoadedStation | None:
    """The station, or None with every problem in every file it uses added to `problems`.

    A malformed ``--set`` override raises ConfigError at once: it is a mistake on the command
    line, not in a file.
    """
    earlier = len(problems)
    raw = read_toml(path, problems)
    if raw is None:
        return None
    raw = apply_overrides(raw, overrides)
    config = validate(path, StationConfig, raw, problems)
    if config is not None:
        check_station_config(path, config, problems)
    base = path.parent
    before = len(problems)
    sound_sets = _load_folder(
        (base / _folder_setting(raw, "sound_sets_dir")).resolve(),
        check_sound_set,
        lambda s: s.sound_set.name,
        problems,
    )
    sound_sets_clean = len(problems) == before
    before = len(problems)
    client_paths: dict[str, Path] = {}
    clients = _load_folder(
        (base / _folder_setting(raw, "clients_dir")).resolve(),
        check_client,
        lambda c: c.client.pseudonym,
        problems,
        client_paths,
    )
    clients_clean = len(problems) == before
    activity_paths: dict[str, Path] = {}
    activities_folder = (base / _folder_setting(raw, "activities_dir")).resolve()
    activities = _load_folder(activities_folder, check_activity, lambda a: a.activity.name,
                              problems, activity_paths) if activities_folder.is_dir() else {}
    if config is None:
        return None
    _check_client_inputs(config, clients, client_paths, problems)
    _check_activities(config, activities, activity_paths, clients, client_paths, problems)
    # When a folder has problems, the name the station asks for may be in one of its broken
    # files: saying it does not exist would send staff looking for the wrong thing.
    if sound_sets_clean and config.station.sound_set not in sound_sets:
        problems.append(Problem(
            path,
            "station.sound_set",
            f"no sound set {config.station.sound_set!r} in {config.station.sound_sets_dir}; "
            f"available: {', '.join(sorted(sound_sets)) or 'none'}"
            f"{did_you_mean(config.station.sound_set, sound_sets)}",
        ))
    if clients_clean and config.station.client not in clients:
        problems.append(Problem(
            path,
            "station.client",
            f"no client profile {config.station.client!r} in {config.station.clients_dir}; "
            f"available: {', '.join(sorted(clients)) or 'none'}",
        ))
    if len(problems) != earlier:
        return None
    return LoadedStation(path, config, sound_sets, clients, raw, activities, client_paths)


def check_files(paths: Sequence[Path]) -> list[Problem]:
    """Problems in the given files, each checked as the kind its top-level table names (a
    file with neither ``[station]`` nor ``[[inputs]]`` nor ``[sound_set]`` nor ``[client]``
    nor ``[activity]`` is a dashboard file)."""
    problems: list[Problem] = []
    for path in paths:
        data = read_toml(path, problems)
        if data is None:
            continue
        if "sound_set" in data:
            check_sound_set(path, data, problems)
        elif "client" in data and isinstance(data["client"], dict):
            check_client(path, data, problems)
        elif "activity" in data and isinstance(data["activity"], dict):
            check_activity(path, data, problems)
        elif is_station_file(data):
            check_station(path, problems)
        else:
            config = validate(path, DashboardFile, data, problems)
            if config is not None:
                check_dashboard_file(path, config, problems)
    return problems


def effective_config(loaded: LoadedStation) -> dict[str, Any]:
    """The station config with defaults filled in and secrets masked, for display."""
    data = loaded.config.model_dump(mode="python", exclude_none=True)
    for table, key in (("mqtt", "password"), ("dashboard", "mqtt_password"),
                       ("dashboard", "database_url")):
        secret = getattr(getattr(loaded.config, table), key).get_secret_value()
        data[table][key] = "********" if secret else ""
    return data


def load_dashboard(path: Path | str, overrides: Sequence[str] = ()) -> DashboardConfig:
    """The dashboard's settings from a station file's ``[dashboard]`` or a dashboard file.

    A station file is checked whole (sound sets and clients too), as `station run` would.
    Raises ConfigError listing every problem found.
    """
    path = Path(path)
    problems: list[Problem] = []
    raw = read_toml(path, problems)
    if raw is None:
        raise ConfigError(problems)
    if is_station_file(raw):
        station = load_station(path, overrides)
        mqtt, section = station.config.mqtt, station.config.dashboard
        # No host: the embedded development broker on this machine, which speaks 3.1.1.
        broker = BrokerSettings(
            host=mqtt.host or "127.0.0.1", port=mqtt.port, topic_root=mqtt.topic_root,
            username=section.mqtt_username, password=section.mqtt_password.get_secret_value(),
            protocol="3.1.1" if not mqtt.host or mqtt.protocol == "3.1.1" else "5",
            ingest_protocol="3.1.1", tls=mqtt.uses_tls, ca_file=_file(station, mqtt.ca_file),
            cert_file=_file(station, mqtt.cert_file), key_file=_file(station, mqtt.key_file),
        )
        return resolve(path, section, station.data_dir, broker, section.enabled)
    raw = apply_overrides(raw, overrides)
    config = validate(path, DashboardFile, raw, problems)
    if config is not None:
        check_dashboard_file(path, config, problems)
    if config is None or problems:
        raise ConfigError(problems)
    data_dir = (path.parent / Path(config.dashboard.data_dir).expanduser()).resolve()
    return resolve(path, config.dashboard, data_dir, file_broker(path, config.mqtt))


def _file(station: LoadedStation, value: str) -> Path | None:
    return station.resolve(value) if value else None


def data_dir_of(path: Path | str, overrides: Sequence[str] = ()) -> Path:
    """The data directory a station file names, checking only what that needs.

    For tools that talk to a running station (`station control`): a broken sound set must not
    stop staff from reaching the engine, e.g. to reload after fixing it.
    """
    path = Path(path)
    problems: list[Problem] = []
    raw = read_toml(path, problems)
    if raw is None:
        raise ConfigError(problems)
    raw = apply_overrides(raw, overrides)
    section = validate(path, StationSection, raw.get("station", {}), problems)
    if section is None:
        raise ConfigError(
            [dataclasses.replace(p, where=f"station.{p.where}") for p in problems]
        )
    return (path.parent / Path(section.data_dir).expanduser()).resolve()


def _check_client_inputs(
    config: StationConfig, clients: Mapping[str, ClientProfile], paths: Mapping[str, Path],
    problems: list[Problem],
) -> None:
    """Every input a client profile tunes is a play input of this station, and the merged
    settings of each input make sense."""
    play = {item.name: item for item in config.inputs if item.role == "play"}
    for pseudonym, client in clients.items():
        path = paths.get(pseudonym, Path(pseudonym))
        for name in client.access.inputs:
            if name not in play:
                problems.append(Problem(
                    path,
                    f"access.inputs.{name}",
                    f"no play input {name!r} in the station file; play inputs: "
                    f"{', '.join(play) or 'none'}{did_you_mean(name, play)}",
                ))
        sensors = [name for name, item in play.items() if item.is_sensor]
        for name in client.sensors:
            if name not in sensors:
                problems.append(Problem(
                    path, f"sensors.{name}",
                    f"no sensor input {name!r} in the station file; sensors: "
                    f"{', '.join(sensors) or 'none'}{did_you_mean(name, sensors)}"))
        for name, item in play.items():
            merged = merge_access(*input_access_layers(item, client.access))
            problems.extend(access_problems(merged, path, f"access (input {name!r})"))
        for goal in client.goals:
            for name in goal.inputs:
                if name not in play:
                    problems.append(Problem(
                        path, f"goals[{goal.name}].inputs",
                        f"no play input {name!r} in the station file; play inputs: "
                        f"{', '.join(play) or 'none'}{did_you_mean(name, play)}"))


def _check_activities(
    config: StationConfig, activities: Mapping[str, Activity], paths: Mapping[str, Path],
    clients: Mapping[str, ClientProfile], client_paths: Mapping[str, Path],
    problems: list[Problem],
) -> None:
    """Every target an activity names is a play input here; every client's activity exists."""
    play = [item.name for item in config.inputs if item.role == "play"]
    for name, activity in activities.items():
        for target in activity.activity.targets:
            if target not in play:
                problems.append(Problem(
                    paths.get(name, Path(name)), "activity.targets",
                    f"no play input {target!r} in the station file; play inputs: "
                    f"{', '.join(play) or 'none'}{did_you_mean(target, play)}"))
    for pseudonym, client in clients.items():
        wanted = client.client.activity
        if wanted and wanted not in activities:
            problems.append(Problem(
                client_paths.get(pseudonym, Path(pseudonym)), "client.activity",
                f"no activity {wanted!r} in {config.station.activities_dir}; available: "
                f"{', '.join(sorted(activities)) or 'none'}{did_you_mean(wanted, activities)}"))


def _load_folder(
    folder: Path,
    checker: Callable[[Path, dict[str, Any], list[Problem]], T | None],
    name_of: Callable[[T], str],
    problems: list[Problem],
    paths: dict[str, Path] | None = None,
) -> dict[str, T]:
    found: dict[str, T] = {}
    if not folder.is_dir():
        problems.append(Problem(folder, "", "folder not found"))
        return found
    for file in sorted(folder.glob("*.toml")):
        data = read_toml(file, problems)
        if data is None:
            continue
        item = checker(file, data, problems)
        if item is None:
            continue
        name = name_of(item)
        if name in found:
            problems.append(Problem(file, "", f"{name!r} is defined twice in {folder}"))
        found[name] = item
        if paths is not None:
            paths[name] = file
    return found


def _folder_setting(raw: Mapping[str, Any], key: str) -> str:
    """A folder named in the raw ``[station]`` table, or its default if absent or not a string.

    Read from the raw table so that the sound sets and clients are still checked (and all
    problems reported at once) when the station file itself fails validation.
    """
    table = raw.get("station")
    value = table.get(key) if isinstance(table, dict) else None
    return value if isinstance(value, str) else str(StationSection.model_fields[key].default)


def save_sensor_calibration(path: Path, sensor: str, floor: float, ceiling: float) -> None:
    """Write a measured range into the client profile at `path` (its ``[sensors.NAME]``
    floor and ceiling), keeping every comment and other setting; ConfigError if the file as
    changed would not load (nothing is written then)."""
    import tomlkit

    document = tomlkit.parse(path.read_text())
    sensors = document.get("sensors")
    if sensors is None:
        sensors = tomlkit.table(is_super_table=True)
        document["sensors"] = sensors
    table = sensors.get(sensor)
    if table is None:
        table = tomlkit.table()
        sensors[sensor] = table
    table["floor"] = round(floor, 3)
    table["ceiling"] = round(ceiling, 3)
    text = tomlkit.dumps(document)
    problems: list[Problem] = []
    if check_client(path, tomllib.loads(text), problems) is None:
        raise ConfigError(problems)
    temporary = path.with_name(f".{path.name}.saving")
    temporary.write_text(text)
    temporary.replace(path)
