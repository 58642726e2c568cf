"""Sound-set files (``sound-sets/*.toml``): what each play input sounds like, and the rules a
sound set must follow (known instruments, scales and samples; what each slot's action needs)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from station.config.problems import Problem, unknown, validate
from station.config.schema import NAME_PATTERN, Schema
from station.music.catalog import (
    DRUM_PIECES,
    INSTRUMENT_NAMES,
    MELODIC_INSTRUMENTS,
    SAMPLE_EXTENSIONS,
)
from station.music.midi import MidiFileError, melody_notes
from station.music.theory import (
    NOTE_NAMES,
    SCALES,
    chord_notes,
    midi_note,
    note_name,
    parse_note_name,
)

RHYTHM_PATTERN = r"^[xo.]{0,64}$"
# The piano's range, A0 to C8, as MIDI notes: every note a sound set plays lies within it.
PIANO_NOTES = range(21, 109)
# The most notes a one-switch song may have.
MAX_MELODY_NOTES = 1024


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
    # What a variable sensor (a distance or analog input) on this slot does; switches ignore
    # it. "switch": a press when the value passes `threshold` (through the access filter like
    # any switch); "zones": the range split into `zones` notes up the scale from `degree`,
    # entering one plays it; "expression": the slot's note, its level and brightness
    # following the value. `hysteresis` (a share of the range) keeps a trembling value on a
    # border or at the threshold from playing again.
    sensor: Literal["switch", "zones", "expression"] = "switch"
    zones: int = Field(default=5, ge=2, le=16)
    threshold: float = Field(default=0.5, ge=0.05, le=0.95)
    hysteresis: float = Field(default=0.04, ge=0.0, le=0.2)


class MelodySection(Schema):
    # Note names with octave, e.g. ["E4", "D4", "C4"]; each press plays the next, then wraps.
    notes: list[str] = Field(default_factory=list, max_length=MAX_MELODY_NOTES)
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


class CueSection(Schema):
    """The sound set's cue: a short call, its notes played one after another on a melodic
    instrument, that the client answers by pressing (a ``cue`` command sounds it)."""

    degrees: list[int] = Field(default_factory=lambda: [1, 3, 5], min_length=1, max_length=8)
    octave: int = Field(default=1, ge=-2, le=2)  # above the sound set's octave
    note_seconds: float = Field(default=0.25, ge=0.08, le=1.0)
    instrument: str = ""  # "" = the sound set's instrument (a melodic one)
    level: float = Field(default=0.6, gt=0.0, le=1.0)


class SoundSet(Schema):
    sound_set: SoundSetSection
    cue: CueSection = Field(default_factory=CueSection)
    slots: list[SlotConfig] = Field(min_length=1, max_length=64)
    # Sample name → audio file (WAV, FLAC, OGG or AIFF), relative to the sound-set file; made
    # absolute when the file is loaded.
    samples: dict[str, str] = Field(default_factory=dict)
    melody: MelodySection | None = None
    rhythms: list[RhythmConfig] = Field(default_factory=list)


def check_sound_set(path: Path, data: dict[str, Any], problems: list[Problem]) -> SoundSet | None:
    """The sound set in `data` (read from `path`), or None with its problems added.

    Sample paths become absolute (relative to `path`), and a melody's MIDI file its notes.
    """
    sound_set = validate(path, SoundSet, data, problems)
    if sound_set is None:
        return None
    before = len(problems)
    section = sound_set.sound_set
    if section.instrument not in INSTRUMENT_NAMES:
        problems.append(unknown(path, "sound_set.instrument", "instrument", section.instrument,
                                INSTRUMENT_NAMES))
    if section.scale not in SCALES:
        problems.append(unknown(path, "sound_set.scale", "scale", section.scale, list(SCALES)))
    if section.key not in NOTE_NAMES:
        problems.append(Problem(
            path,
            "sound_set.key",
            f"{section.key!r} is not a note name; allowed: {', '.join(NOTE_NAMES)}",
        ))
    samples = _check_samples(path, sound_set, problems)
    for number, slot in enumerate(sound_set.slots, start=1):
        _check_slot(path, number, slot, sound_set, problems)
    melody = _check_melody(path, sound_set.melody, problems)
    if melody is not sound_set.melody:
        sound_set = sound_set.model_copy(update={"melody": melody})
    _check_rhythms(path, sound_set, problems)
    _check_cue(path, sound_set, problems)
    if len(problems) != before:
        return None
    return sound_set.model_copy(update={"samples": samples})


def cue_instrument(sound_set: SoundSet) -> str:
    """What the cue is played on: cue.instrument, else the sound set's own instrument when it
    is melodic, else the bell (a drum or sample set's cue still has pitch)."""
    if sound_set.cue.instrument:
        return sound_set.cue.instrument
    own = sound_set.sound_set.instrument
    return own if own in MELODIC_INSTRUMENTS else "bell"


def _check_cue(path: Path, sound_set: SoundSet, problems: list[Problem]) -> None:
    cue = sound_set.cue
    if cue.instrument and cue.instrument not in MELODIC_INSTRUMENTS:
        problems.append(unknown(path, "cue.instrument", "melodic instrument", cue.instrument,
                                MELODIC_INSTRUMENTS))
    section = sound_set.sound_set
    if section.scale not in SCALES or section.key not in NOTE_NAMES:
        return  # reported above
    for number, degree in enumerate(cue.degrees, start=1):
        if not 1 <= degree <= 64:
            problems.append(Problem(path, f"cue.degrees[#{number}]",
                                    f"{degree} is not a scale degree; allowed: 1 to 64"))
            continue
        note = midi_note(section.key, section.octave, section.scale, degree, cue.octave)
        if note not in PIANO_NOTES:
            problems.append(Problem(
                path, f"cue.degrees[#{number}]",
                f"degree {degree} with cue.octave = {cue.octave} is {note_name(note)}, outside "
                "the piano's A0 to C8; lower cue.octave or the degree"))


def _check_samples(path: Path, sound_set: SoundSet, problems: list[Problem]) -> dict[str, str]:
    """The sample files made absolute (relative to the sound-set file), each checked."""
    resolved = {}
    for name, relative in sound_set.samples.items():
        file = (path.parent / Path(relative).expanduser()).resolve()
        resolved[name] = str(file)
        where = f"samples.{name}"
        if not re.fullmatch(NAME_PATTERN, name):
            problems.append(
                Problem(path, where, "sample names use lower-case letters, digits and '-'")
            )
        if file.suffix.lower() not in SAMPLE_EXTENSIONS:
            problems.append(Problem(
                path,
                where,
                f"{relative!r} is not a sound file the sampler reads; use one of: "
                f"{', '.join(SAMPLE_EXTENSIONS)}",
            ))
        elif not file.is_file():
            problems.append(Problem(
                path,
                where,
                f"file not found: {file}; put the file there or correct the path (relative to "
                "this sound-set file)",
            ))
    return resolved


def _check_slot(
    path: Path, number: int, slot: SlotConfig, sound_set: SoundSet, problems: list[Problem]
) -> None:
    where = f"slots[#{number}]"
    section = sound_set.sound_set
    if slot.instrument and slot.instrument not in MELODIC_INSTRUMENTS:
        problems.append(unknown(path, f"{where}.instrument", "melodic instrument",
                                slot.instrument, MELODIC_INSTRUMENTS))
    instrument = slot.instrument or section.instrument
    if slot.action in ("note", "chord") and instrument in INSTRUMENT_NAMES and (
        instrument not in MELODIC_INSTRUMENTS
    ):
        problems.append(Problem(
            path,
            f"{where}.action",
            f"{slot.action!r} needs a melodic instrument ({', '.join(MELODIC_INSTRUMENTS)}); "
            f"set {where}.instrument or use action 'drum', 'sample' or 'drone'",
        ))
    if slot.action in ("note", "chord", "drone") and section.scale in SCALES and (
        section.key in NOTE_NAMES
    ):
        kind = slot.chord if slot.action == "chord" else "root"
        notes = chord_notes(section.key, section.octave, section.scale, slot.degree, kind,
                            slot.octave)
        if not all(note in PIANO_NOTES for note in notes):
            problems.append(Problem(
                path,
                f"{where}.degree",
                f"degree {slot.degree} at octave {slot.octave:+d} is outside the piano's range "
                "A0 to C8; use a lower degree or octave",
            ))
    if slot.action == "sample" and slot.sample not in sound_set.samples:
        problems.append(unknown(path, f"{where}.sample", "sample", slot.sample,
                                list(sound_set.samples), " (name it in the [samples] table)"))
    if slot.action == "rhythm":
        names = [rhythm.name for rhythm in sound_set.rhythms]
        if slot.rhythm not in names:
            problems.append(unknown(path, f"{where}.rhythm", "rhythm", slot.rhythm, names,
                                    " (define it in a [[rhythms]] table)"))
    if slot.action == "drum" and slot.drum not in DRUM_PIECES:
        problems.append(unknown(path, f"{where}.drum", "drum", slot.drum, DRUM_PIECES))
    if slot.sensor != "switch":
        _check_sensor_slot(path, where, slot, sound_set, problems)
    if slot.action == "melody" and sound_set.melody is None:
        problems.append(Problem(
            path, f"{where}.action", "'melody' needs a [melody] table with the song's notes"
        ))


def _check_sensor_slot(
    path: Path, where: str, slot: SlotConfig, sound_set: SoundSet, problems: list[Problem]
) -> None:
    """Zones and expression play the slot's notes: a note action, every zone on the piano."""
    if slot.action != "note":
        problems.append(Problem(
            path, f"{where}.sensor",
            f"sensor = {slot.sensor!r} plays notes of the scale; set action = \"note\" (or "
            "sensor = \"switch\" to play the slot's action when the value passes its "
            "threshold)"))
        return
    section = sound_set.sound_set
    if slot.sensor != "zones" or section.scale not in SCALES or section.key not in NOTE_NAMES:
        return
    top = midi_note(section.key, section.octave, section.scale, slot.degree + slot.zones - 1,
                    slot.octave)
    if top not in PIANO_NOTES:
        problems.append(Problem(
            path, f"{where}.zones",
            f"{slot.zones} zones from degree {slot.degree} reach {note_name(top)}, above the "
            "piano's C8; use fewer zones, a lower degree or octave"))


def zone_notes(sound_set: SoundSet, slot: SlotConfig) -> list[int]:
    """The MIDI notes of a zones slot, lowest zone first: the scale upward from its degree."""
    section = sound_set.sound_set
    return [midi_note(section.key, section.octave, section.scale, slot.degree + step,
                      slot.octave) for step in range(slot.zones)]


def _check_melody(
    path: Path, melody: MelodySection | None, problems: list[Problem]
) -> MelodySection | None:
    """The melody checked, its notes read from its MIDI file if it names one."""
    if melody is None:
        return None
    if bool(melody.notes) == bool(melody.file):
        problems.append(Problem(
            path,
            "melody",
            "give the song either as notes = [\"C4\", ...] or as file = \"song.mid\", not "
            "both and not neither",
        ))
    elif melody.file:
        midi = (path.parent / Path(melody.file).expanduser()).resolve()
        try:
            names = [note_name(note) for note in melody_notes(midi)]
        except MidiFileError as error:
            problems.append(Problem(path, "melody.file", f"{midi}: {error}"))
        else:
            if len(names) > MAX_MELODY_NOTES:
                problems.append(Problem(
                    path,
                    "melody.file",
                    f"{midi}: {len(names)} notes; at most {MAX_MELODY_NOTES} fit a one-switch "
                    "song",
                ))
            melody = melody.model_copy(update={"notes": names[:MAX_MELODY_NOTES]})
    if melody.instrument and melody.instrument not in MELODIC_INSTRUMENTS:
        problems.append(unknown(path, "melody.instrument", "melodic instrument",
                                melody.instrument, MELODIC_INSTRUMENTS))
    for number, name in enumerate(melody.notes, start=1):
        where = f"melody.notes[#{number}]"
        try:
            note = parse_note_name(name)
        except ValueError as error:
            problems.append(Problem(path, where, str(error)))
            continue
        if note not in PIANO_NOTES:
            problems.append(
                Problem(path, where, f"{name!r} is outside the piano's range A0 to C8")
            )
    return melody


def _check_rhythms(path: Path, sound_set: SoundSet, problems: list[Problem]) -> None:
    names = [rhythm.name for rhythm in sound_set.rhythms]
    for rhythm in sound_set.rhythms:
        where = f"rhythms[{rhythm.name}]"
        if names.count(rhythm.name) > 1:
            problems.append(Problem(path, f"{where}.name", "defined twice"))
        if not any(getattr(rhythm, piece) for piece in DRUM_PIECES):
            problems.append(Problem(
                path,
                where,
                f"give at least one of {', '.join(DRUM_PIECES)} a line such as 'x...x...'",
            ))
