"""The notes of a small Standard MIDI File, in order: the melody of a one-switch song.

Pure Python, so that config validation reads the file without pyo. Of notes that start
together (a chord), the highest is the melody's.
"""

from __future__ import annotations

import struct
from pathlib import Path


class MidiFileError(ValueError):
    """The file is not a Standard MIDI File this reader understands."""


def _variable_length(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at
    raise MidiFileError("a delta time is longer than four bytes")


def _track_note_ons(track: bytes) -> list[tuple[int, int]]:
    """(tick, note) of every note-on with a velocity above 0 in one track."""
    found = []
    tick = 0
    at = 0
    status = 0
    while at < len(track):
        delta, at = _variable_length(track, at)
        tick += delta
        if track[at] & 0x80:
            status = track[at]
            at += 1
        elif not status:
            raise MidiFileError("running status before any status byte")
        kind = status & 0xF0
        if status == 0xFF:  # meta event: type, length, data
            length, at = _variable_length(track, at + 1)
            at += length
            status = 0
        elif status in (0xF0, 0xF7):  # system exclusive
            length, at = _variable_length(track, at)
            at += length
            status = 0
        elif kind in (0xC0, 0xD0):  # program change, channel pressure: one data byte
            at += 1
        else:
            note, velocity = track[at], track[at + 1]
            at += 2
            if (note | velocity) & 0x80:
                raise MidiFileError("a note event's data byte is out of range")
            if kind == 0x90 and velocity > 0:
                found.append((tick, note))
    return found


def melody_notes(path: Path) -> list[int]:
    """MIDI note numbers of the file's melody, in the order they start."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MidiFileError(f"cannot be read: {error.strerror}") from error
    if data[:4] != b"MThd" or len(data) < 14:
        raise MidiFileError("not a Standard MIDI File (it does not start with 'MThd')")
    header_length = struct.unpack(">I", data[4:8])[0]
    at = 8 + header_length
    starts: list[tuple[int, int]] = []
    try:
        while at + 8 <= len(data):
            kind, length = data[at:at + 4], struct.unpack(">I", data[at + 4:at + 8])[0]
            if kind == b"MTrk":
                starts.extend(_track_note_ons(data[at + 8:at + 8 + length]))
            at += 8 + length
    except IndexError as error:
        raise MidiFileError("a track ends in the middle of an event") from error
    highest: dict[int, int] = {}
    for tick, note in starts:
        highest[tick] = max(note, highest.get(tick, 0))
    if not highest:
        raise MidiFileError("has no notes")
    return [highest[tick] for tick in sorted(highest)]
