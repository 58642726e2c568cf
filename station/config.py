"""Configuration: TOML files validated by typed schemas, with every problem collected.

Three kinds of file live under ``config/``:

* the station file (``station.toml``): station identity, audio, GPIO, MQTT and the inputs;
* sound-set files (``sound-sets/*.toml``): what each play input sounds like;
* client-profile files (``clients/*.toml``): per-client safety and access settings.

Every problem is reported as ``file: section.key: message`` naming the bad value and what is
allowed, so that a therapist can fix the file without reading code.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from station.errors import ConfigError
from station.sound.catalog import INSTRUMENT_NAMES
from station.sound.theory import NOTE_NAMES, SCALES

M = TypeVar("M", bound=BaseModel)

PSEUDONYM_PATTERN = r"^[A-Z][A-Z0-9]{0,3}-[A-Z0-9]{2,12}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
# BCM numbers of the GPIO lines on the 40-pin header of every Pi since the B+.
GPIO_PINS = range(0, 28)


class Schema(BaseModel):
    """Base of every config table: unknown keys are errors, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StationSection(Schema):
    id: str = Field(default="station-1", pattern=NAME_PATTERN)
    site: str = Field(default="site-1", pattern=NAME_PATTERN)
    data_dir: str = "../data"
    sound_sets_dir: str = "sound-sets"
    clients_dir: str = "clients"
    client: str = Field(default="C-0000", pattern=PSEUDONYM_PATTERN)
    sound_set: str = Field(default="calm-bells", pattern=NAME_PATTERN)


class AudioSection(Schema):
    backend: Literal["auto", "jack", "portaudio", "null"] = "auto"
    sample_rate: Literal[44100, 48000, 96000] = 48000
    buffer_size: int = Field(default=64, ge=16, le=4096)
    channels: int = Field(default=2, ge=1, le=8)
    output_device: str = ""


class GpioSection(Schema):
    pin_factory: Literal["auto", "lgpio", "rpigpio", "mock"] = "auto"


class MqttSection(Schema):
    host: str = ""
    port: int = Field(default=1883, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    topic_root: str = Field(default="sensory/v1", pattern=r"^[A-Za-z0-9_/-]+$")
    keepalive: int = Field(default=30, ge=5, le=3600)
    # "auto": MQTT 5 (the broker's refusals are visible), 3.1.1 if the broker speaks no 5.
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    # TLS: on when `tls` is true or a CA file is given. Paths are relative to the station file;
    # an empty ca_file uses the system's CAs. cert_file and key_file log in by certificate.
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    # Home Assistant MQTT discovery: the station appears as a device (default off).
    homeassistant_discovery: bool = False
    homeassistant_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_/-]+$")

    @property
    def uses_tls(self) -> bool:
        return self.tls or bool(self.ca_file or self.cert_file)


class TelemetrySection(Schema):
    """What the telemetry agent derives from the event log, and how long the log keeps it."""

    # Seconds between the aggregates and health messages (default 10).
    aggregate_seconds: float = Field(default=10.0, ge=1.0, le=3600.0)
    # Delivered events older than this many days are deleted (default 30; 0 keeps them all).
    retention_days: float = Field(default=30.0, ge=0.0, le=3650.0)
    # Below this many MB free in data_dir the status says so and the log warns (default 100).
    min_free_mb: float = Field(default=100.0, ge=0.0)
    # Presses at most this many seconds apart belong to one engaged stretch (default 10).
    engaged_gap_seconds: float = Field(default=10.0, gt=0.0, le=600.0)


class InputConfig(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["arcade-button", "adaptive-switch", "keyboard"] = "arcade-button"
    pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    pull_up: bool = True
    led_pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    role: Literal["play"] = "play"
    slot: int = Field(default=1, ge=1, le=64)
    key: str | None = Field(default=None, pattern=r"^[a-z0-9]$")


class StationConfig(Schema):
    station: StationSection = StationSection()
    audio: AudioSection = AudioSection()
    gpio: GpioSection = GpioSection()
    mqtt: MqttSection = MqttSection()
    telemetry: TelemetrySection = TelemetrySection()
    inputs: list[InputConfig] = Field(default_factory=list, min_length=1)


class ClientSection(Schema):
    pseudonym: str = Field(pattern=PSEUDONYM_PATTERN)
    volume_ceiling_dbfs: float = Field(default=-12.0, ge=-60.0, le=0.0)


class AccessSection(Schema):
    debounce_ms: float = Field(default=20.0, ge=0.0, le=1000.0)
    lockout_ms: float = Field(default=0.0, ge=0.0, le=10000.0)


class ClientProfile(Schema):
    client: ClientSection
    access: AccessSection = AccessSection()


class SoundSetSection(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    instrument: str
    key: str = "C"
    octave: int = Field(default=4, ge=1, le=7)
    scale: str = "major-pentatonic"
    volume: float = Field(default=0.7, ge=0.0, le=1.0)


class SlotConfig(Schema):
    degree: int = Field(ge=1, le=64)
    octave: int = Field(default=0, ge=-3, le=3)
    velocity: float = Field(default=0.8, gt=0.0, le=1.0)


class SoundSet(Schema):
    sound_set: SoundSetSection
    slots: list[SlotConfig] = Field(min_length=1, max_length=64)


@dataclass(frozen=True)
class LoadedStation:
    """A station file with every sound set and client profile it can switch to."""

    path: Path
    config: StationConfig
    sound_sets: Mapping[str, SoundSet]
    clients: Mapping[str, ClientProfile]
    raw: Mapping[str, Any] = field(repr=False)

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


# --------------------------------------------------------------------------------------
# Reading files


def read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The parsed file, or None with a problem naming the file (and line and column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}: cannot be read: {error}")
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if where:
            message = message[: where.start()].strip()
            problems.append(
                f"{path}: line {where[1]}, column {where[2]}: TOML syntax error: {message}"
            )
        else:
            problems.append(f"{path}: TOML syntax error: {message}")
        return None


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``section.key=value`` overrides (value in TOML syntax, bare words taken as strings)."""
    for override in overrides:
        dotted, separator, text = override.partition("=")
        parts = dotted.strip().split(".")
        if not separator or len(parts) != 2 or not all(parts):
            raise ConfigError([f"--set {override!r}: expected section.key=value"])
        try:
            value = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        section = raw.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise ConfigError([f"--set {override!r}: '{parts[0]}' is not a table"])
        section[parts[1]] = value
    return raw


def _describe(loc: Sequence[int | str], data: Any) -> str:
    """``inputs[big-red].pin`` for a pydantic location, naming list items by their name."""
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and isinstance(
                node[part], dict
            ) else None
            text += f"[{name}]" if isinstance(name, str) else f"[#{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return text


def _fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys allowed in the table at `loc` (for did-you-mean suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        annotation = info.annotation
        while get_origin(annotation) is not None:
            args = [a for a in get_args(annotation) if a is not type(None)]
            annotation = args[0] if args else None
        current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _validation_problems(
    path: Path, model: type[BaseModel], data: dict[str, Any], error: ValidationError
) -> list[str]:
    problems = []
    for item in error.errors():
        loc = item["loc"]
        where = _describe(loc, data)
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1])
            message = f"unknown key{_suggestion(key, allowed)}"
            if allowed:
                message += f" (allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "literal_error":
            expected = re.findall(r"'([^']*)'|(\d+)", item.get("ctx", {}).get("expected", ""))
            choices = [a or b for a, b in expected]
            message = f"{item['input']!r} is not allowed; allowed: {', '.join(choices)}"
            message += _suggestion(str(item["input"]), choices)
        elif kind == "string_pattern_mismatch" and loc[-1] in ("pseudonym", "client"):
            message = (
                f"{item['input']!r} is not a client pseudonym; use a code like 'C-7F3K' "
                "(capital letters and digits around one hyphen), never a real name"
            )
        elif kind == "string_pattern_mismatch":
            message = (
                f"{item['input']!r} is not allowed; use lower-case letters, digits and '-' "
                f"(pattern {item.get('ctx', {}).get('pattern')})"
            )
        else:
            message = f"{item['msg']}; got {item['input']!r}"
        problems.append(f"{path}: {where or '(top level)'}: {message}")
    return problems


def _validate(
    path: Path, model: type[M], data: dict[str, Any], problems: list[str]
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems.extend(_validation_problems(path, model, data, error))
        return None


# --------------------------------------------------------------------------------------
# The three kinds of file


def check_sound_set(path: Path, data: dict[str, Any], problems: list[str]) -> SoundSet | None:
    sound_set = _validate(path, SoundSet, data, problems)
    if sound_set is None:
        return None
    before = len(problems)
    section = sound_set.sound_set
    if section.instrument not in INSTRUMENT_NAMES:
        problems.append(
            f"{path}: sound_set.instrument: no instrument {section.instrument!r}; "
            f"allowed: {', '.join(INSTRUMENT_NAMES)}"
            f"{_suggestion(section.instrument, INSTRUMENT_NAMES)}"
        )
    if section.scale not in SCALES:
        problems.append(
            f"{path}: sound_set.scale: no scale {section.scale!r}; allowed: "
            f"{', '.join(SCALES)}{_suggestion(section.scale, SCALES)}"
        )
    if section.key not in NOTE_NAMES:
        problems.append(
            f"{path}: sound_set.key: {section.key!r} is not a note name; allowed: "
            f"{', '.join(NOTE_NAMES)}"
        )
    return sound_set if len(problems) == before else None


def check_client(path: Path, data: dict[str, Any], problems: list[str]) -> ClientProfile | None:
    return _validate(path, ClientProfile, data, problems)


def _check_inputs(path: Path, config: StationConfig, problems: list[str]) -> None:
    pin_owner: dict[int, str] = {}
    seen_names: set[str] = set()
    key_owner: dict[str, str] = {}
    for item in config.inputs:
        where = f"{path}: inputs[{item.name}]"
        if item.name in seen_names:
            problems.append(f"{where}.name: input name {item.name!r} is used twice")
        seen_names.add(item.name)
        if item.kind != "keyboard" and item.pin is None:
            problems.append(f"{where}.pin: required for a {item.kind}; give a BCM GPIO number")
        for key, pin in (("pin", item.pin), ("led_pin", item.led_pin)):
            if pin is None:
                continue
            if pin in pin_owner:
                problems.append(
                    f"{where}.{key}: pin GPIO{pin} is already used by {pin_owner[pin]}"
                )
            else:
                pin_owner[pin] = f"input {item.name!r}" + (" (LED)" if key == "led_pin" else "")
        if item.key is not None:
            if item.key in key_owner:
                problems.append(
                    f"{where}.key: key {item.key!r} is already used by input "
                    f"{key_owner[item.key]!r}"
                )
            key_owner[item.key] = item.name


def _check_mqtt_files(path: Path, config: StationConfig, problems: list[str]) -> None:
    mqtt = config.mqtt
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(mqtt, key)
        if value and not (path.parent / Path(value).expanduser()).is_file():
            problems.append(f"{path}: mqtt.{key}: file not found: {value!r} (relative to "
                            f"{path.parent})")
    if bool(mqtt.cert_file) != bool(mqtt.key_file):
        problems.append(f"{path}: mqtt.cert_file and mqtt.key_file: give both or neither")


def _load_folder(
    folder: Path,
    checker: Any,
    name_of: Any,
    problems: list[str],
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if not folder.is_dir():
        problems.append(f"{folder}: folder not found")
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
            problems.append(f"{file}: {name!r} is defined twice in {folder}")
        found[name] = item
    return found


def _folder_setting(raw: Mapping[str, Any], key: str) -> str:
    """A folder named in the raw ``[station]`` table, or its default if absent or not a string.

    Read from the raw table so that the sound sets and clients are still checked (and all
    problems reported at once) when the station file itself fails validation.
    """
    table = raw.get("station")
    value = table.get(key) if isinstance(table, dict) else None
    return value if isinstance(value, str) else str(StationSection.model_fields[key].default)


def load_station(path: Path | str, overrides: Sequence[str] = ()) -> LoadedStation:
    """Read and check a station file and all the sound sets and clients it can use.

    Raises ConfigError listing every problem found, in every file.
    """
    path = Path(path)
    problems: list[str] = []
    raw = read_toml(path, problems)
    if raw is None:
        raise ConfigError(problems)
    raw = apply_overrides(raw, overrides)
    config = _validate(path, StationConfig, raw, problems)
    if config is not None:
        _check_inputs(path, config, problems)
        _check_mqtt_files(path, config, problems)
    base = path.parent
    before = len(problems)
    sound_sets: dict[str, SoundSet] = _load_folder(
        (base / _folder_setting(raw, "sound_sets_dir")).resolve(),
        check_sound_set,
        lambda s: s.sound_set.name,
        problems,
    )
    sound_sets_clean = len(problems) == before
    before = len(problems)
    clients: dict[str, ClientProfile] = _load_folder(
        (base / _folder_setting(raw, "clients_dir")).resolve(),
        check_client,
        lambda c: c.client.pseudonym,
        problems,
    )
    clients_clean = len(problems) == before
    if config is None:
        raise ConfigError(problems)
    # When a folder has problems, the name the station asks for may be in one of its broken
    # files: saying it does not exist would send staff looking for the wrong thing.
    if sound_sets_clean and config.station.sound_set not in sound_sets:
        problems.append(
            f"{path}: station.sound_set: no sound set {config.station.sound_set!r} in "
            f"{config.station.sound_sets_dir}; available: "
            f"{', '.join(sorted(sound_sets)) or 'none'}"
            f"{_suggestion(config.station.sound_set, sound_sets)}"
        )
    if clients_clean and config.station.client not in clients:
        problems.append(
            f"{path}: station.client: no client profile {config.station.client!r} in "
            f"{config.station.clients_dir}; available: {', '.join(sorted(clients)) or 'none'}"
        )
    if problems:
        raise ConfigError(problems)
    return LoadedStation(path, config, sound_sets, clients, raw)


def check_files(paths: Sequence[Path]) -> list[str]:
    """Problems in the given files, each checked as the kind its top-level table names."""
    problems: list[str] = []
    for path in paths:
        data = read_toml(path, problems)
        if data is None:
            continue
        if "sound_set" in data:
            check_sound_set(path, data, problems)
        elif "client" in data and isinstance(data["client"], dict):
            check_client(path, data, problems)
        else:
            try:
                load_station(path)
            except ConfigError as error:
                problems.extend(error.problems)
    return problems


def effective_config(loaded: LoadedStation) -> dict[str, Any]:
    """The station config with defaults filled in and secrets masked, for display."""
    data = loaded.config.model_dump(mode="python", exclude_none=True)
    password = loaded.config.mqtt.password.get_secret_value()
    data["mqtt"]["password"] = "********" if password else ""
    return data


def data_dir_of(path: Path | str, overrides: Sequence[str] = ()) -> Path:
    """The data directory a station file names, checking only what that needs.

    For tools that talk to a running station (`station control`): a broken sound set must not
    stop staff from reaching the engine, e.g. to reload after fixing it.
    """
    path = Path(path)
    problems: list[str] = []
    raw = read_toml(path, problems)
    if raw is None:
        raise ConfigError(problems)
    raw = apply_overrides(raw, overrides)
    section = _validate(path, StationSection, raw.get("station", {}), problems)
    if section is None:
        raise ConfigError([p.replace(f"{path}: ", f"{path}: station.", 1) for p in problems])
    return (path.parent / Path(section.data_dir).expanduser()).resolve()
