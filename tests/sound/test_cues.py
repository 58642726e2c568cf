"""The cue's call as it comes out of the sound engine (pyo's manual server)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from station.config import load_station
from station.music.theory import frequency, midi_note
from tests.conftest import SHIPPED_CONFIG
from tests.sound.render import BLOCK, RATE, Capture


@pytest.fixture
def shipped() -> Any:
    return load_station(SHIPPED_CONFIG / "station.toml")


def loudest_frequency(samples: np.ndarray) -> float:
    """The strongest frequency in `samples`: the note just started, over the release of the
    one before it (each note rings on under the next, as a played phrase does)."""
    padded = len(samples) * 16
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), padded))
    return float(np.argmax(spectrum) * RATE / padded)


def play_call(engine: Any, capture: Any, server: Any, level: float) -> int:
    """Play the current sound set's call as the cue runner does, note by note, rendering in
    between; the audio clock (samples) read just before its first note."""
    phrase = engine.cue
    onset_sample = int(server.getCurrentTimeInSamples())
    for hertz in phrase.hertz:
        voice = phrase.instrument.note_on(hertz, level)
        capture.seconds(phrase.note_seconds)
        phrase.instrument.note_off(voice)
    return onset_sample


def test_the_call_is_first_heard_at_its_onset_sample_and_plays_the_sound_sets_degrees(
    pyo_server: Any, shipped: Any
) -> None:
    from station.sound.engine import SoundEngine

    # On the sine the pitch of each note can be measured (the bell's partials are not whole).
    sound_set = shipped.sound_set.model_copy(update={
        "cue": shipped.sound_set.cue.model_copy(update={"instrument": "sine"})})
    engine = SoundEngine(2, sound_set, shipped.client)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)  # past the start-up fade-in
    # The capture's sample index and pyo's counter are one clock, offset by where it began.
    offset = int(pyo_server.getCurrentTimeInSamples()) - capture.now
    assert capture.peak() == 0.0, "nothing sounds before the cue"

    onset_sample = play_call(engine, capture, pyo_server, engine.cue.level)
    capture.seconds(1.0)
    heard = capture.first_sound()
    assert heard is not None, "the cue must be heard"
    # Started between two blocks, the call is heard in the block that begins at onset_sample.
    assert onset_sample - offset <= heard < onset_sample - offset + BLOCK

    cue = sound_set.cue
    section = sound_set.sound_set
    note_samples = round(cue.note_seconds * RATE)
    for number, degree in enumerate(cue.degrees):
        start = heard + number * note_samples
        middle = capture.array(start + note_samples // 4, start + note_samples * 3 // 4)
        expected = frequency(midi_note(section.key, section.octave, section.scale, degree,
                                       cue.octave))
        assert loudest_frequency(middle) == pytest.approx(expected, rel=0.01), f"note {number + 1}"


def test_a_recue_quieter_by_six_db_comes_out_six_db_quieter(
    pyo_server: Any, shipped: Any
) -> None:
    from station.sound.engine import SoundEngine

    engine = SoundEngine(2, shipped.sound_set, shipped.client)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)
    peaks = []
    level = engine.cue.level
    for _ in range(3):
        start = capture.now
        play_call(engine, capture, pyo_server, level)
        capture.seconds(3.0)  # rings out before the next
        peaks.append(capture.peak(start))
        level *= 10 ** (-6 / 20)
    assert peaks[0] > 0.01
    for louder, quieter in itertools.pairwise(peaks):
        assert quieter <= louder
        assert 20 * math.log10(louder / quieter) == pytest.approx(6.0, abs=0.5)
