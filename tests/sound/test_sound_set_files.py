"""Mistakes in sound-set files are refused with a message that says what to fix."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from station.config import Problem
from station.config.sound_set import check_sound_set
from station.errors import ConfigError
from tests.sound.render import client, sound_set

HEADER = '[sound_set]\nname = "mine"\ninstrument = "bell"\n'


def problems_in(folder: Path, text: str) -> list[str]:
    path = folder / "mine.toml"
    path.write_text(text)
    problems: list[Problem] = []
    assert check_sound_set(path, tomllib.loads(text), problems) is None
    return [str(problem).removeprefix(f"{path}: ") for problem in problems]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            HEADER + '[samples]\nrain = "sounds/rain.wav"\n'
            '[[slots]]\naction = "sample"\nsample = "rain"\n',
            "samples.rain: file not found: {folder}/sounds/rain.wav; put the file there or "
            "correct the path (relative to this sound-set file)",
            id="missing-sample-file",
        ),
        pytest.param(
            HEADER + '[samples]\nrain = "rain.mp4"\n[[slots]]\ndegree = 1\n',
            "samples.rain: 'rain.mp4' is not a sound file the sampler reads; use one of: "
            ".wav, .flac, .ogg, .aif, .aiff",
            id="not-a-sound-file",
        ),
        pytest.param(
            HEADER + '[[slots]]\naction = "rhythm"\nrhythm = "grove"\n'
            '[[rhythms]]\nname = "groove"\nkick = "x..."\n',
            "slots[#1].rhythm: no rhythm 'grove'; allowed: groove; did you mean 'groove'? "
            "(define it in a [[rhythms]] table)",
            id="unknown-rhythm",
        ),
        pytest.param(
            HEADER + '[[slots]]\naction = "drum"\ndrum = "snair"\n',
            "slots[#1].drum: no drum 'snair'; allowed: kick, snare, hat, shaker; "
            "did you mean 'snare'?",
            id="unknown-drum",
        ),
        pytest.param(
            HEADER + '[melody]\nnotes = ["C4", "H4"]\n[[slots]]\naction = "melody"\n',
            "melody.notes[#2]: 'H4' is not a note name like 'C4', 'F#3' or 'Bb2'",
            id="bad-melody-note",
        ),
        pytest.param(
            HEADER + '[melody]\nfile = "song.mid"\n[[slots]]\naction = "melody"\n',
            "melody.file: {folder}/song.mid: cannot be read: No such file or directory",
            id="missing-midi-file",
        ),
        pytest.param(
            HEADER + '[melody]\nfile = "mine.toml"\n[[slots]]\naction = "melody"\n',
            "melody.file: {folder}/mine.toml: not a Standard MIDI File (it does not start "
            "with 'MThd')",
            id="not-a-midi-file",
        ),
        pytest.param(
            HEADER + '[melody]\nnotes = ["C4"]\nfile = "song.mid"\n'
            '[[slots]]\naction = "melody"\n',
            'melody: give the song either as notes = ["C4", ...] or as file = "song.mid", '
            "not both and not neither",
            id="melody-notes-and-file",
        ),
        pytest.param(
            HEADER + '[[slots]]\naction = "melody"\n',
            "slots[#1].action: 'melody' needs a [melody] table with the song's notes",
            id="melody-without-notes",
        ),
        pytest.param(
            HEADER.replace('"bell"', '"drums"') + '[[slots]]\naction = "chord"\n',
            "slots[#1].action: 'chord' needs a melodic instrument (bell, pad, pluck, mallet, "
            "sine); set slots[#1].instrument or use action 'drum', 'sample' or 'drone'",
            id="chord-on-drums",
        ),
        pytest.param(
            HEADER + '[[rhythms]]\nname = "beat"\nkick = "x--x"\n[[slots]]\ndegree = 1\n',
            "rhythms[beat].kick: 'x--x' is not a rhythm line; use 'x' (hit), 'o' (soft hit) "
            "and '.' (rest), at most 64 steps",
            id="bad-rhythm-line",
        ),
        pytest.param(
            HEADER + '[[slots]]\nactoin = "note"\n',
            "slots[#1].actoin: unknown key; did you mean 'action'? (allowed: action, degree, "
            "octave, velocity, instrument, chord, sample, rhythm, drum, sensor, zones, threshold, "
            "hysteresis)",
            id="misspelt-key",
        ),
        pytest.param(
            HEADER + "[[slots]]\ndegree = 40\noctave = 3\n",
            "slots[#1].degree: degree 40 at octave +3 is outside the piano's range A0 to C8; "
            "use a lower degree or octave",
            id="note-out-of-range",
        ),
    ],
)
def test_a_bad_sound_set_gets_a_clear_message(tmp_path: Path, text: str, problem: str) -> None:
    assert problems_in(tmp_path, text) == [problem.format(folder=tmp_path)]


def test_a_sample_file_that_is_not_audio_is_refused_when_loaded(
    pyo_server: Any, tmp_path: Path
) -> None:
    from station.sound.engine import SoundEngine

    good = sound_set(tmp_path, HEADER + "[[slots]]\ndegree = 1\n")
    (tmp_path / "noise.wav").write_bytes(b"not a wave file")
    broken = sound_set(
        tmp_path,
        HEADER.replace('"mine"', '"broken"') + '[samples]\nnoise = "noise.wav"\n'
        '[[slots]]\naction = "sample"\n'
        'sample = "noise"\n',
    )
    engine = SoundEngine(2, good, client())
    with pytest.raises(ConfigError) as error:
        engine.set_sound_set(broken)
    assert error.value.problems == [
        f"sound set 'broken': samples.noise: sample {tmp_path / 'noise.wav'}: cannot be read as a "
        "sound file (WAV, FLAC, OGG or AIFF)"
    ]
    assert engine.sound_set_name == "mine" and engine.press(1), "the last good set still plays"
