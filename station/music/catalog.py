"""Names the sound sets may use (instruments, drum pieces, sample formats), importable without
pyo so that config validation does not need an audio server."""

from __future__ import annotations

# Instruments that play pitched notes, chords and melodies.
MELODIC_INSTRUMENTS: tuple[str, ...] = ("bell", "pad", "pluck", "mallet", "sine")
# Every instrument the engine builds, in the order it builds them.
INSTRUMENT_NAMES: tuple[str, ...] = (*MELODIC_INSTRUMENTS, "drone", "drums", "sampler")
DRUM_PIECES: tuple[str, ...] = ("kick", "snare", "hat", "shaker")
# What libsndfile (through pyo) reads and the therapist is likely to have.
SAMPLE_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aif", ".aiff")
