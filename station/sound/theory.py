"""Music theory the sound sets need: note names, scales, equal-tempered frequencies.

Pure Python so that config validation can use it without booting pyo.
"""

from __future__ import annotations

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
