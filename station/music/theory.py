"""Music theory the sound sets need: note names, scales, equal-tempered frequencies.

Pure Python so that config validation can use it without booting pyo.
"""

from __future__ import annotations

import re

# Semitone steps from the tonic for one octave of each scale.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural-minor": (0, 2, 3, 5, 7, 8, 10),
    "major-pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "whole-tone": (0, 2, 4, 6, 8, 10),
    "chromatic": tuple(range(12)),
}

NOTE_NAMES: dict[str, int] = {
    "C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6, "Gb": 6,
    "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11,
}  # fmt: skip


def midi_note(key: str, octave: int, scale: str, degree: int, octave_offset: int = 0) -> int:
    """MIDI note number of a scale degree (1-based; degrees past the scale wrap into the
    next octave) in `key` at `octave` (scientific pitch: C4 = MIDI 60)."""
    steps = SCALES[scale]
    index = degree - 1
    octaves_up, step_index = divmod(index, len(steps))
    return 12 * (octave + 1 + octave_offset + octaves_up) + NOTE_NAMES[key] + steps[step_index]


def frequency(midi: float, concert_a: float = 440.0) -> float:
    """Equal-tempered frequency in Hz of a MIDI note number (A4 = 69 = `concert_a`)."""
    return concert_a * 2.0 ** ((midi - 69.0) / 12.0)


# Scale steps above the chord's root degree: a triad stacks two thirds, a seventh chord three.
CHORD_DEGREES: dict[str, tuple[int, ...]] = {
    "root": (0,),
    "triad": (0, 2, 4),
    "seventh": (0, 2, 4, 6),
}

_NOTE_NAME = re.compile(r"^([A-G][#b]?)(-?\d)$")


def chord_notes(
    key: str, octave: int, scale: str, degree: int, kind: str, octave_offset: int = 0
) -> tuple[int, ...]:
    """MIDI notes of the chord built in the scale on `degree` (every other scale degree)."""
    return tuple(
        midi_note(key, octave, scale, degree + step, octave_offset)
        for step in CHORD_DEGREES[kind]
    )


def parse_note_name(name: str) -> int:
    """MIDI note of a name like 'C4', 'F#3' or 'Bb2' (C4 = 60); ValueError if it is not one."""
    match = _NOTE_NAME.match(name.strip())
    if match is None or match[1] not in NOTE_NAMES:
        raise ValueError(f"{name!r} is not a note name like 'C4', 'F#3' or 'Bb2'")
    return 12 * (int(match[2]) + 1) + NOTE_NAMES[match[1]]


_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: int) -> str:
    """The name of a MIDI note number, with sharps: 61 → 'C#4'."""
    return f"{_SHARP_NAMES[midi % 12]}{midi // 12 - 1}"
