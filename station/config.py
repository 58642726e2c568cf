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
from station.music.catalog import (
    DRUM_PIECES,
    INSTRUMENT_NAMES,
    MELODIC_INSTRUMENTS,
    SAMPLE_EXTENSIONS,
)
from station.music.midi import MidiFileError, melody_notes
from station.music.theory import NOTE_NAMES, SCALES, chord_notes, note_name, parse_note_name

M = TypeVar("M", bound=BaseModel)

PSEUDONYM_PATTERN = r"^[A-Z][A-Z0-9]{0,3}-[A-Z0-9]{2,12}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
# BCM numbers of the GPIO lines on the 40-pin header of every Pi since the B+.
GPIO_PINS = range(0, 28)
RHYTHM_PATTERN = r"^[xo.]{0,64}$"


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


class AccessOverride(Schema):
    """Access-filter settings; a key left out keeps the value of the layer below it.

    Used for an input's defaults in the station file and for the client's ``[access]`` and
    ``[access.inputs.<input>]`` tables (see `station.inputs.access.AccessSettings.for_input`).
    """

    debounce_ms: float | None = Field(default=None, ge=0.0, le=1000.0)
    acceptance_ms: float | None = Field(default=None, ge=0.0, le=5000.0)
    lockout_ms: float | None = Field(default=None, ge=0.0, le=10000.0)
    release_tolerance_ms: float | None = Field(default=None, ge=0.0, le=2000.0)
    mode: Literal["momentary", "latch", "timed"] | None = None
    timed_ms: float | None = Field(default=None, ge=50.0, le=60000.0)
    stuck_s: float | None = Field(default=None, ge=1.0, le=3600.0)


CONTROL_ACTIONS = (
    "volume-up", "volume-down", "volume", "next-sound-set", "previous-sound-set", "session",
)


class InputConfig(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal[
        "arcade-button", "adaptive-switch", "usb-switch", "keyboard", "rotary-encoder"
    ] = "arcade-button"
    pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    # The encoder's second line (B); its first (A) is `pin`.
    pin_b: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    pull_up: bool = True
    led_pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    # What the LED shows: "note", lit while the input's note sounds; "switch", lit while the
    # switch is held, from its first edge (before an acceptance delay has passed).
    led_shows: Literal["note", "switch"] = "note"
    role: Literal["play", "control"] = "play"
    action: Literal[
        "volume-up", "volume-down", "volume", "next-sound-set", "previous-sound-set", "session"
    ] | None = None
    slot: int = Field(default=1, ge=1, le=64)
    key: str | None = Field(default=None, pattern=r"^[a-z0-9]$")
    # A USB switch interface (an HID keyboard or joystick): its device name as the system
    # shows it, and the key or button code it sends (`evtest` shows both).
    device: str | None = Field(default=None, min_length=1)
    code: str | None = Field(default=None, pattern=r"^(KEY|BTN)_[A-Z0-9_]+$")
    access: AccessOverride | None = None


class ControlsSection(Schema):
    """Station-wide therapist controls (the control inputs themselves are [[inputs]])."""

    # An LED showing ready (a short blink every 2 s), session running (steady) or fault
    # (fast blink).
    status_led_pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))


class StationConfig(Schema):
    station: StationSection = StationSection()
    audio: AudioSection = AudioSection()
    gpio: GpioSection = GpioSection()
    mqtt: MqttSection = MqttSection()
    controls: ControlsSection = ControlsSection()
    telemetry: TelemetrySection = TelemetrySection()
    inputs: list[InputConfig] = Field(default_factory=list, min_length=1)


class ClientSection(Schema):
    pseudonym: str = Field(pattern=PSEUDONYM_PATTERN)
    # The loudest the station may ever get for this client, dBFS.
    volume_ceiling_dbfs: float = Field(default=-12.0, ge=-60.0, le=0.0)
    # No sound reaches full level faster than this, milliseconds: instruments with a shorter
    # attack (a drum, a pluck) are softened for this client.
    min_attack_ms: float = Field(default=5.0, ge=1.0, le=2000.0)
    # Low-pass cut-off in Hz for sound-sensitive clients; 0 = no cap.
    brightness_cap_hz: float = Field(default=0.0, ge=0.0, le=20000.0)


# The built-in access settings, under every layer of the station and client files.
ACCESS_DEFAULTS = AccessOverride(
    debounce_ms=20.0,
    acceptance_ms=0.0,
    lockout_ms=0.0,
    release_tolerance_ms=0.0,
    mode="momentary",
    timed_ms=1000.0,
    stuck_s=30.0,
)
# A session control starts or ends the session only when held this long (milliseconds), so
# that a client cannot do it by accident.
SESSION_HOLD_MS = 2000.0


def merge_access(*layers: AccessOverride | None) -> AccessOverride:
    """The built-in defaults overridden by the keys each layer sets, later layers winning."""
    values: dict[str, Any] = {}
    for layer in (ACCESS_DEFAULTS, *layers):
        if layer is not None:
            values.update(
                (key, getattr(layer, key))
                for key in AccessOverride.model_fields
                if getattr(layer, key) is not None
            )
    return AccessOverride(**values)


def access_problems(merged: AccessOverride) -> list[str]:
    """What is inconsistent in a merged access table: ``key: message`` lines."""
    problems = []
    acceptance = merged.acceptance_ms or 0.0
    debounce = merged.debounce_ms or 0.0
    if 0.0 < acceptance < debounce:
        problems.append(
            f"acceptance_ms: {acceptance:g} is shorter than debounce_ms {debounce:g}; a press "
            "is only known to be held once its debounce window has passed: use 0 or at least "
            f"{debounce:g}"
        )
    if merged.stuck_s is not None and acceptance >= merged.stuck_s * 1000.0:
        problems.append(
            f"acceptance_ms: {acceptance:g} is not shorter than the stuck-switch guard "
            f"(stuck_s = {merged.stuck_s:g}); no press could ever be accepted"
        )
    return problems


class AccessSection(AccessOverride):
    """A client's ``[access]`` table: settings for every input, then per-input overrides."""

    inputs: dict[str, AccessOverride] = Field(default_factory=dict)


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
    tempo_bpm: float = Field(default=90.0, ge=30.0, le=240.0)
    # Share of reverberated sound, 0 (dry) to 1.
    reverb: float = Field(default=0.25, ge=0.0, le=1.0)
    # Expression from one switch: a held note swells from `swell_start` of its level to the
    # full level over this many seconds, and gets brighter as it does; 0 = no swell.
    swell_seconds: float = Field(default=0.0, ge=0.0, le=20.0)
    swell_start: float = Field(default=0.35, ge=0.05, le=1.0)


class SlotConfig(Schema):
    # note: one scale degree; chord: a chord on the degree; sample: a [samples] file;
    # melody: the next note of [melody]; drone: a held root and fifth, on/off per press;
    # rhythm: a [[rhythms]] pattern, start/stop per press; drum: one drum-kit piece.
    action: Literal["note", "chord", "sample", "melody", "drone", "rhythm", "drum"] = "note"
    degree: int = Field(default=1, ge=1, le=64)
    octave: int = Field(default=0, ge=-3, le=3)
    velocity: float = Field(default=0.8, gt=0.0, le=1.0)
    instrument: str = ""  # "" = the sound set's instrument
    chord: Literal["triad", "seventh"] = "triad"
    sample: str = ""
    rhythm: str = ""
    drum: str = ""


class MelodySection(Schema):
    # Note names with octave, e.g. ["E4", "D4", "C4"]; each press plays the next, then wraps.
    notes: list[str] = Field(default_factory=list, max_length=1024)
    # Or a small MIDI file (relative to the sound-set file) whose notes become `notes`.
    file: str = ""
    instrument: str = ""  # "" = the sound set's instrument


class RhythmConfig(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    steps_per_beat: int = Field(default=4, ge=1, le=8)
    # One character per step: 'x' a hit, 'o' a soft hit, '.' a rest; each line repeats on its
    # own length.
    kick: str = Field(default="", pattern=RHYTHM_PATTERN)
    snare: str = Field(default="", pattern=RHYTHM_PATTERN)
    hat: str = Field(default="", pattern=RHYTHM_PATTERN)
    shaker: str = Field(default="", pattern=RHYTHM_PATTERN)
    velocity: float = Field(default=0.7, gt=0.0, le=1.0)


class SoundSet(Schema):
    sound_set: SoundSetSection
    slots: list[SlotConfig] = Field(min_length=1, max_length=64)
    # Sample name → audio file (WAV, FLAC, OGG or AIFF), relative to the sound-set file; made
    # absolute when the file is loaded.
    samples: dict[str, str] = Field(default_factory=dict)
    melody: MelodySection | None = None
    rhythms: list[RhythmConfig] = Field(default_factory=list)


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
        elif kind == "string_pattern_mismatch" and loc[-1] in DRUM_PIECES:
            message = (
                f"{item['input']!r} is not a rhythm line; use 'x' (hit), 'o' (soft hit) and "
                "'.' (rest), at most 64 steps"
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


def _unknown(path: Path, where: str, what: str, value: str, allowed: Sequence[str]) -> str:
    return (
        f"{path}: {where}: no {what} {value!r}; allowed: {', '.join(allowed) or 'none'}"
        f"{_suggestion(value, allowed)}"
    )


def _check_samples(path: Path, sound_set: SoundSet, problems: list[str]) -> dict[str, str]:
    """The sample files made absolute (relative to the sound-set file), each checked."""
    resolved = {}
    for name, relative in sound_set.samples.items():
        file = (path.parent / Path(relative).expanduser()).resolve()
        resolved[name] = str(file)
        if not re.fullmatch(NAME_PATTERN, name):
            problems.append(
                f"{path}: samples.{name}: sample names use lower-case letters, digits and '-'"
            )
        if file.suffix.lower() not in SAMPLE_EXTENSIONS:
            problems.append(
                f"{path}: samples.{name}: {relative!r} is not a sound file the sampler reads; "
                f"use one of: {', '.join(SAMPLE_EXTENSIONS)}"
            )
        elif not file.is_file():
            problems.append(
                f"{path}: samples.{name}: file not found: {file}; put the file there or "
                "correct the path (relative to this sound-set file)"
            )
    return resolved


def _check_slot(
    path: Path, number: int, slot: SlotConfig, sound_set: SoundSet, problems: list[str]
) -> None:
    where = f"slots[#{number}]"
    section = sound_set.sound_set
    if slot.instrument and slot.instrument not in MELODIC_INSTRUMENTS:
        problems.append(
            _unknown(path, f"{where}.instrument", "melodic instrument", slot.instrument,
                     MELODIC_INSTRUMENTS)
        )
    instrument = slot.instrument or section.instrument
    if slot.action in ("note", "chord") and instrument in INSTRUMENT_NAMES and (
        instrument not in MELODIC_INSTRUMENTS
    ):
        problems.append(
            f"{path}: {where}.action: {slot.action!r} needs a melodic instrument "
            f"({', '.join(MELODIC_INSTRUMENTS)}); set {where}.instrument or use action "
            "'drum', 'sample' or 'drone'"
        )
    if slot.action in ("note", "chord", "drone") and section.scale in SCALES and (
        section.key in NOTE_NAMES
    ):
        kind = slot.chord if slot.action == "chord" else "root"
        notes = chord_notes(section.key, section.octave, section.scale, slot.degree, kind,
                            slot.octave)
        if not all(21 <= note <= 108 for note in notes):
            problems.append(
                f"{path}: {where}.degree: degree {slot.degree} at octave {slot.octave:+d} is "
                "outside the piano's range A0 to C8; use a lower degree or octave"
            )
    if slot.action == "sample" and slot.sample not in sound_set.samples:
        problems.append(
            _unknown(path, f"{where}.sample", "sample", slot.sample, list(sound_set.samples))
            + " (name it in the [samples] table)"
        )
    if slot.action == "rhythm":
        names = [rhythm.name for rhythm in sound_set.rhythms]
        if slot.rhythm not in names:
            problems.append(
                _unknown(path, f"{where}.rhythm", "rhythm", slot.rhythm, names)
                + " (define it in a [[rhythms]] table)"
            )
    if slot.action == "drum" and slot.drum not in DRUM_PIECES:
        problems.append(_unknown(path, f"{where}.drum", "drum", slot.drum, DRUM_PIECES))
    if slot.action == "melody" and sound_set.melody is None:
        problems.append(
            f"{path}: {where}.action: 'melody' needs a [melody] table with the song's notes"
        )


def check_sound_set(path: Path, data: dict[str, Any], problems: list[str]) -> SoundSet | None:
    """The sound set in `data` (read from `path`), or None with its problems added."""
    sound_set = _validate(path, SoundSet, data, problems)
    if sound_set is None:
        return None
    before = len(problems)
    section = sound_set.sound_set
    if section.instrument not in INSTRUMENT_NAMES:
        problems.append(
            _unknown(path, "sound_set.instrument", "instrument", section.instrument,
                     INSTRUMENT_NAMES)
        )
    if section.scale not in SCALES:
        problems.append(_unknown(path, "sound_set.scale", "scale", section.scale, list(SCALES)))
    if section.key not in NOTE_NAMES:
        problems.append(
            f"{path}: sound_set.key: {section.key!r} is not a note name; allowed: "
            f"{', '.join(NOTE_NAMES)}"
        )
    samples = _check_samples(path, sound_set, problems)
    for number, slot in enumerate(sound_set.slots, start=1):
        _check_slot(path, number, slot, sound_set, problems)
    melody = sound_set.melody
    if melody is not None and bool(melody.notes) == bool(melody.file):
        problems.append(
            f"{path}: melody: give the song either as notes = [\"C4\", ...] or as "
            "file = \"song.mid\", not both and not neither"
        )
    elif melody is not None and melody.file:
        midi = (path.parent / Path(melody.file).expanduser()).resolve()
        try:
            names = [note_name(note) for note in melody_notes(midi)]
        except MidiFileError as error:
            problems.append(f"{path}: melody.file: {midi}: {error}")
        else:
            if len(names) > 1024:
                problems.append(f"{path}: melody.file: {midi}: {len(names)} notes; at most "
                                "1024 fit a one-switch song")
            melody = melody.model_copy(update={"notes": names[:1024]})
            sound_set = sound_set.model_copy(update={"melody": melody})
    if melody is not None:
        if melody.instrument and melody.instrument not in MELODIC_INSTRUMENTS:
            problems.append(
                _unknown(path, "melody.instrument", "melodic instrument", melody.instrument,
                         MELODIC_INSTRUMENTS)
            )
        for number, name in enumerate(melody.notes, start=1):
            try:
                note = parse_note_name(name)
            except ValueError as error:
                problems.append(f"{path}: melody.notes[#{number}]: {error}")
                continue
            if not 21 <= note <= 108:
                problems.append(
                    f"{path}: melody.notes[#{number}]: {name!r} is outside the piano's range "
                    "A0 to C8"
                )
    rhythm_names = [rhythm.name for rhythm in sound_set.rhythms]
    for rhythm in sound_set.rhythms:
        if rhythm_names.count(rhythm.name) > 1:
            problems.append(f"{path}: rhythms[{rhythm.name}].name: defined twice")
        if not any(getattr(rhythm, piece) for piece in DRUM_PIECES):
            problems.append(
                f"{path}: rhythms[{rhythm.name}]: give at least one of "
                f"{', '.join(DRUM_PIECES)} a line such as 'x...x...'"
            )
    if len(problems) != before:
        return None
    return sound_set.model_copy(update={"samples": samples})


def check_client(path: Path, data: dict[str, Any], problems: list[str]) -> ClientProfile | None:
    client = _validate(path, ClientProfile, data, problems)
    if client is None:
        return None
    before = len(problems)
    access = client.access
    for where, layer in [("access", None), *(
        (f"access.inputs.{name}", table) for name, table in access.inputs.items()
    )]:
        problems.extend(
            f"{path}: {where}.{problem}" for problem in access_problems(merge_access(access, layer))
        )
    return client if len(problems) == before else None


def _check_inputs(path: Path, config: StationConfig, problems: list[str]) -> None:
    pin_owner: dict[int, str] = {}
    seen_names: set[str] = set()
    key_owner: dict[str, str] = {}
    if config.controls.status_led_pin is not None:
        pin_owner[config.controls.status_led_pin] = "controls.status_led_pin"
    for item in config.inputs:
        where = f"{path}: inputs[{item.name}]"
        if item.name in seen_names:
            problems.append(f"{where}.name: input name {item.name!r} is used twice")
        seen_names.add(item.name)
        if item.kind not in ("keyboard", "usb-switch") and item.pin is None:
            problems.append(f"{where}.pin: required for a {item.kind}; give a BCM GPIO number")
        _check_usb(where, item, problems)
        _check_role(where, item, problems)
        for key, pin in (("pin", item.pin), ("pin_b", item.pin_b), ("led_pin", item.led_pin)):
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
        problems.extend(
            f"{where}.access.{problem}"
            for problem in access_problems(merge_access(input_access_defaults(item)))
        )


def input_access_defaults(item: InputConfig) -> AccessOverride | None:
    """The station file's access table of `item`; a session control waits for a long press."""
    if item.action != "session":
        return item.access
    return merge_access(AccessOverride(acceptance_ms=SESSION_HOLD_MS), item.access)


def _check_usb(where: str, item: InputConfig, problems: list[str]) -> None:
    if item.kind != "usb-switch":
        for key in ("device", "code"):
            if getattr(item, key) is not None:
                problems.append(f"{where}.{key}: only a usb-switch has a {key}")
        return
    if item.pin is not None:
        problems.append(f"{where}.pin: a usb-switch has no GPIO pin; remove pin")
    if item.device is None:
        problems.append(
            f"{where}.device: a usb-switch needs its device name (as `evtest` lists it)"
        )
    if item.code is None:
        problems.append(f"{where}.code: a usb-switch needs the key or button it sends, "
                        "e.g. \"KEY_SPACE\" or \"BTN_0\"")
    else:
        try:
            from evdev import ecodes
        except ImportError:  # evdev builds on Linux only; the pattern check still ran
            return
        if item.code not in ecodes.ecodes:
            names = [name for name in ecodes.ecodes if name.startswith(("KEY_", "BTN_"))]
            problems.append(
                f"{where}.code: no key or button {item.code!r}{_suggestion(item.code, names)}"
            )


def _check_role(where: str, item: InputConfig, problems: list[str]) -> None:
    if item.role == "play":
        if item.action is not None:
            problems.append(
                f"{where}.action: only a control has an action; set role = \"control\" or "
                "remove action"
            )
        if item.kind == "rotary-encoder":
            problems.append(
                f"{where}.role: a rotary encoder is a control; set role = \"control\" and "
                "action = \"volume\""
            )
        return
    if item.action is None:
        problems.append(
            f"{where}.action: a control needs an action; allowed: {', '.join(CONTROL_ACTIONS)}"
        )
    elif (item.action == "volume") != (item.kind == "rotary-encoder"):
        problems.append(
            f"{where}.action: action \"volume\" goes with kind \"rotary-encoder\" (and an "
            "encoder only does volume); buttons use volume-up / volume-down"
        )
    if item.kind == "rotary-encoder" and item.pin_b is None:
        problems.append(f"{where}.pin_b: a rotary encoder needs its second pin (B)")
    if item.kind != "rotary-encoder" and item.pin_b is not None:
        problems.append(f"{where}.pin_b: only a rotary encoder has a second pin")


def _check_client_inputs(
    config: StationConfig, clients: Mapping[str, ClientProfile], paths: Mapping[str, Path],
    problems: list[str],
) -> None:
    """Every input a client profile tunes is a play input of this station, and the merged
    settings of each input make sense."""
    play = {item.name: item for item in config.inputs if item.role == "play"}
    for pseudonym, client in clients.items():
        path = paths.get(pseudonym, Path(pseudonym))
        for name in client.access.inputs:
            if name not in play:
                problems.append(
                    f"{path}: access.inputs.{name}: no play input {name!r} in the station "
                    f"file; play inputs: {', '.join(play) or 'none'}{_suggestion(name, play)}"
                )
        for name, item in play.items():
            merged = merge_access(item.access, client.access, client.access.inputs.get(name))
            problems.extend(
                f"{path}: access (input {name!r}).{problem}"
                for problem in access_problems(merged)
            )


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
    paths: dict[str, Path] | None = None,
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
    client_paths: dict[str, Path] = {}
    clients: dict[str, ClientProfile] = _load_folder(
        (base / _folder_setting(raw, "clients_dir")).resolve(),
        check_client,
        lambda c: c.client.pseudonym,
        problems,
        client_paths,
    )
    clients_clean = len(problems) == before
    if config is None:
        raise ConfigError(problems)
    _check_client_inputs(config, clients, client_paths, problems)
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
