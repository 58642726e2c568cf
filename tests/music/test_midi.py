"""The MIDI reader refuses what it cannot read with MidiFileError, never with a crash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from station.music.midi import MidiFileError, melody_notes

HEADER = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 0x60])


@settings(max_examples=300, deadline=None)
@given(track=st.binary(max_size=200))
def test_any_track_bytes_give_notes_or_a_clear_error(tmp_path_factory: object, track: bytes
                                                     ) -> None:
    folder = tmp_path_factory.mktemp("midi")  # type: ignore[attr-defined]
    path = Path(folder) / "song.mid"
    path.write_bytes(HEADER + b"MTrk" + len(track).to_bytes(4, "big") + track)
    try:
        notes = melody_notes(path)
    except MidiFileError:
        return
    assert notes and all(0 <= note <= 127 for note in notes)
