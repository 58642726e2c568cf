"""What each kind of slot plays, measured on the samples pyo's manual server renders."""

from __future__ import annotations

import math
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.sound.render import (
    RATE,
    RING_OUT_SECONDS,
    Capture,
    cents,
    client,
    hits,
    measured_pitch,
    sound_set,
    spectrum_peaks,
)

# Equal-tempered frequencies (A4 = 440 Hz), written out rather than computed by the code under
# test.
C4, E4, G4, A4, B4 = 261.6256, 329.6276, 391.9954, 440.0, 493.8833
D5, E5 = 587.3295, 659.2551

SINE_SCALE = """
[sound_set]
name = "test-set"
instrument = "sine"
key = "C"
octave = 4
scale = "major"
reverb = 0.0
"""


def engine_for(text: str, folder: Path, **client_settings: Any) -> Any:
    from station.sound.engine import SoundEngine

    return SoundEngine(2, sound_set(folder, text), client(**client_settings))


def started(pyo_server: Any, engine: Any) -> Capture:
    """A capture past the engine's start-up fade-in."""
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)
    return capture


def pitches_of_presses(capture: Capture, engine: Any, presses: int) -> list[float]:
    """Press slot 1 `presses` times, 0.4 s each with 0.6 s between; the pitch heard each time."""
    heard = []
    for _ in range(presses):
        start = capture.now
        engine.press(1)
        capture.seconds(0.4)
        engine.release(1)
        heard.append(measured_pitch(capture.array(start + RATE // 10, capture.now)))
        capture.seconds(0.6)
    return heard


def test_each_note_is_within_one_cent_of_the_scale(pyo_server: Any, tmp_path: Path) -> None:
    expected = {1: C4, 3: E4, 5: G4, 6: A4, 7: B4, 9: D5, 10: E5}
    slots = "".join(f"[[slots]]\ndegree = {degree}\n" for degree in expected)
    engine = engine_for(SINE_SCALE + slots, tmp_path)
    capture = started(pyo_server, engine)
    for slot, hertz in enumerate(expected.values(), start=1):
        start = capture.now
        engine.press(slot)
        capture.seconds(0.6)
        engine.release(slot)
        capture.seconds(0.1)
        # Measured once the attack is over, over 0.4 s (about a hundred cycles or more).
        pitch = measured_pitch(capture.array(start + RATE // 10, start + RATE // 2))
        assert abs(cents(pitch, hertz)) < 1.0, f"slot {slot}: {pitch:.3f} Hz, not {hertz} Hz"


def test_scales_other_than_major_place_their_degrees(pyo_server: Any, tmp_path: Path) -> None:
    # A minor pentatonic: A C D E G; degree 4 is E5 at octave 4 (A4 is the tonic).
    text = SINE_SCALE.replace('key = "C"', 'key = "A"').replace(
        'scale = "major"', 'scale = "minor-pentatonic"') + "[[slots]]\ndegree = 4\n"
    engine = engine_for(text, tmp_path)
    capture = started(pyo_server, engine)
    start = capture.now
    engine.press(1)
    capture.seconds(0.5)
    pitch = measured_pitch(capture.array(start + RATE // 10, capture.now))
    assert abs(cents(pitch, E5)) < 1.0


@pytest.mark.parametrize(
    ("chord", "pitches"), [("triad", (C4, E4, G4)), ("seventh", (C4, E4, G4, B4))]
)
def test_a_chord_sounds_all_its_pitches(
    pyo_server: Any, tmp_path: Path, chord: str, pitches: tuple[float, ...]
) -> None:
    engine = engine_for(
        SINE_SCALE + f'[[slots]]\naction = "chord"\nchord = "{chord}"\ndegree = 1\n', tmp_path
    )
    capture = started(pyo_server, engine)
    start = capture.now
    engine.press(1)
    capture.seconds(1.2)

    peaks = spectrum_peaks(capture.array(start + RATE // 5, capture.now), len(pitches))
    for heard, expected in zip(peaks, pitches, strict=True):
        assert abs(cents(heard, expected)) < 5, f"heard {peaks}, expected {pitches}"


def test_the_melody_switch_steps_through_the_song_and_wraps(
    pyo_server: Any, tmp_path: Path
) -> None:
    engine = engine_for(
        SINE_SCALE + '[melody]\nnotes = ["C4", "E4", "G4"]\n[[slots]]\naction = "melody"\n',
        tmp_path,
    )
    heard = pitches_of_presses(started(pyo_server, engine), engine, 4)
    for pitch, expected in zip(heard, (C4, E4, G4, C4), strict=True):
        assert abs(cents(pitch, expected)) < 1.0, f"heard {heard}"


def test_every_instrument_at_full_velocity_stays_under_the_ceiling(
    pyo_server: Any, tmp_path: Path
) -> None:
    ceiling_dbfs = -20.0
    slots = "".join(
        f'[[slots]]\naction = "chord"\nchord = "seventh"\ninstrument = "{name}"\n'
        f"degree = {degree}\nvelocity = 1.0\n"
        for degree, name in enumerate(("bell", "pad", "pluck", "mallet", "sine"), start=1)
    ) + "".join(
        f'[[slots]]\naction = "drum"\ndrum = "{piece}"\nvelocity = 1.0\n'
        for piece in ("kick", "snare", "hat", "shaker")
    ) + '[[slots]]\naction = "drone"\nvelocity = 1.0\noctave = -2\n'
    text = SINE_SCALE.replace("reverb = 0.0", "reverb = 0.6\nvolume = 1.0") + slots
    engine = engine_for(text, tmp_path, volume_ceiling_dbfs=ceiling_dbfs)
    capture = started(pyo_server, engine)
    for _ in range(3):  # more notes than voices: stealing under full load
        for slot in range(1, 11):
            engine.press(slot)
            capture.blocks(1)
    capture.seconds(2.0)

    peak = capture.peak()
    assert 20 * math.log10(peak) <= ceiling_dbfs + 0.001
    assert 20 * math.log10(peak) > ceiling_dbfs - 3, "full load should reach the ceiling"


@pytest.mark.parametrize("min_attack_ms", [5.0, 80.0])
def test_no_onset_is_faster_than_the_clients_minimum_attack(
    pyo_server: Any, tmp_path: Path, min_attack_ms: float
) -> None:
    # A hi-hat has a 1 ms attack by design; the client's minimum must soften it.
    engine = engine_for(
        SINE_SCALE + '[[slots]]\naction = "drum"\ndrum = "hat"\nvelocity = 1.0\n'
        + '[[slots]]\ninstrument = "pluck"\nvelocity = 1.0\n',
        tmp_path, min_attack_ms=min_attack_ms,
    )
    capture = started(pyo_server, engine)
    for slot in (1, 2):
        start = capture.now
        engine.press(slot)
        capture.seconds(0.4)
        engine.release(slot)
        capture.seconds(1.0)
        onset = capture.first_sound(start, threshold=1e-5)
        assert onset is not None
        peak = capture.peak(onset, onset + int(0.4 * RATE))
        # Before the minimum attack has passed, the sound is still well below its peak.
        early = capture.peak(onset, onset + int(0.5 * min_attack_ms / 1000 * RATE))
        assert early < 0.75 * peak, f"slot {slot} reached {early / peak:.0%} of its peak early"


def test_a_held_note_swells_when_the_sound_set_asks_for_it(
    pyo_server: Any, tmp_path: Path
) -> None:
    text = SINE_SCALE.replace("reverb = 0.0", "reverb = 0.0\nswell_seconds = 1.5\n"
                              "swell_start = 0.3") + "[[slots]]\nvelocity = 1.0\n"
    engine = engine_for(text, tmp_path)
    capture = started(pyo_server, engine)
    start = capture.now
    engine.press(1)
    capture.seconds(2.0)
    at_press = capture.peak(start + int(0.1 * RATE), start + int(0.2 * RATE))
    after_swell = capture.peak(start + int(1.6 * RATE), start + int(1.7 * RATE))
    assert after_swell / at_press > 1.8, "held longer, the note should grow louder"
    assert capture.peak() <= 10 ** (-12 / 20) + 1e-6, "and never past the client's ceiling"


def test_a_brightness_cap_takes_the_edge_off(pyo_server: Any, tmp_path: Path) -> None:
    text = SINE_SCALE.replace('instrument = "sine"', 'instrument = "pluck"') + (
        "[[slots]]\ndegree = 1\nvelocity = 1.0\n")

    def high_share(**settings: Any) -> float:
        engine = engine_for(text, tmp_path, **settings)
        capture = started(pyo_server, engine)
        start = capture.now
        engine.press(1)
        capture.seconds(0.3)
        spectrum = np.abs(np.fft.rfft(capture.array(start, capture.now))) ** 2
        hertz = np.fft.rfftfreq(capture.now - start, 1.0 / RATE)
        engine.release_all()
        engine.fade_out()
        capture.seconds(1.0)
        return float(spectrum[hertz > 1500].sum() / spectrum.sum())

    assert high_share(brightness_cap_hz=600.0) < 0.1 * high_share()


def write_tone(path: Path, hertz: float, seconds: float, rate: int) -> None:
    frames = [
        int(16000 * math.sin(2 * math.pi * hertz * n / rate)) for n in range(int(seconds * rate))
    ]
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(np.asarray(frames, dtype="<i2").tobytes())


def test_the_sampler_plays_the_files_content(pyo_server: Any, tmp_path: Path) -> None:
    # A file at 44.1 kHz on a 48 kHz server: it must still play at its own pitch and length.
    write_tone(tmp_path / "tone.wav", 1000.0, 0.3, 44100)
    engine = engine_for(
        SINE_SCALE + '[samples]\ntone = "tone.wav"\n'
        '[[slots]]\naction = "sample"\nsample = "tone"\nvelocity = 1.0\n',
        tmp_path,
    )
    capture = started(pyo_server, engine)
    start = capture.now
    engine.press(1)
    capture.seconds(0.6)

    onset = capture.first_sound(start)
    assert onset is not None and onset - start < 64, "the sample starts in the next block"
    assert abs(cents(measured_pitch(capture.array(onset + 960, onset + 13000)), 1000.0)) < 1.0
    assert capture.peak(onset + int(0.25 * RATE), onset + int(0.29 * RATE)) > 0.05
    assert capture.peak(onset + int(0.31 * RATE)) < 1e-4, "and stops where the file ends"


def test_the_sampler_plays_every_channel_of_a_stereo_file(pyo_server: Any, tmp_path: Path) -> None:
    # A stereo recording with the tone on the right channel only, the left one silent.
    frames = np.zeros((int(0.3 * RATE), 2), dtype="<i2")
    frames[:, 1] = 16000 * np.sin(2 * np.pi * 500.0 * np.arange(len(frames)) / RATE)
    with wave.open(str(tmp_path / "right.wav"), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(frames.tobytes())
    engine = engine_for(
        SINE_SCALE + '[samples]\nright = "right.wav"\n'
        '[[slots]]\naction = "sample"\nsample = "right"\nvelocity = 1.0\n',
        tmp_path,
    )
    capture = started(pyo_server, engine)
    start = capture.now
    engine.press(1)
    capture.seconds(0.4)

    onset = capture.first_sound(start)
    assert onset is not None, "the right channel's tone is heard"
    assert abs(cents(measured_pitch(capture.array(onset + 960, onset + 12000)), 500.0)) < 1.0
    # Mixed down as the average of both channels: half the level of a mono file's tone.
    assert 0.02 < capture.peak(onset + 2400, onset + 12000) < 0.2


def test_a_sound_set_swap_under_held_notes_leaves_nothing_after_release(
    pyo_server: Any, tmp_path: Path
) -> None:
    busy = SINE_SCALE.replace('instrument = "sine"', 'instrument = "pad"').replace(
        "reverb = 0.0", "reverb = 0.4") + (
        '[[slots]]\naction = "chord"\n'
        '[[slots]]\naction = "drone"\noctave = -1\n'
        '[[slots]]\naction = "rhythm"\nrhythm = "beat"\n'
        '[[rhythms]]\nname = "beat"\nkick = "x..."\nhat = "x.x."\n'
    )
    (tmp_path / "busy").mkdir()
    (tmp_path / "calm").mkdir()
    calm = sound_set(tmp_path / "calm", SINE_SCALE.replace('"test-set"', '"calm"')
                     + "[[slots]]\ndegree = 3\n")
    engine = engine_for(busy, tmp_path / "busy")
    capture = started(pyo_server, engine)
    for slot in (1, 2, 3):
        engine.press(slot)
    capture.seconds(2.0)
    before = capture.largest_step(capture.now - RATE // 2)

    swapped_at = capture.now
    began = time.perf_counter()
    engine.set_sound_set(calm)
    took = time.perf_counter() - began
    capture.seconds(0.2)
    for slot in (1, 2, 3):
        engine.release(slot)
    capture.seconds(RING_OUT_SECONDS)

    assert took < 0.05, f"the swap took {took * 1000:.0f} ms"
    assert capture.largest_step(swapped_at - 1, swapped_at + RATE // 5) <= 1.2 * before, "a click"
    assert engine.voices_held() == 0
    assert capture.peak(capture.now - RATE // 10) < 1e-4, "something is still sounding"
    start = capture.now
    engine.press(1)
    capture.seconds(0.4)
    assert abs(cents(measured_pitch(capture.array(start + RATE // 10, capture.now)), E4)) < 1


def test_switching_client_under_held_notes_does_not_click(
    pyo_server: Any, tmp_path: Path
) -> None:
    from station.sound.engine import RAMP_SECONDS

    engine = engine_for(
        SINE_SCALE.replace('instrument = "sine"', 'instrument = "pad"')
        + '[[slots]]\naction = "chord"\nchord = "seventh"\nvelocity = 1.0\n',
        tmp_path, volume_ceiling_dbfs=-6.0,
    )
    capture = started(pyo_server, engine)
    engine.press(1)
    capture.seconds(1.0)
    before = capture.largest_step(capture.now - RATE // 2)
    loud = capture.peak(capture.now - RATE // 2)

    quiet = client(volume_ceiling_dbfs=-18.0, brightness_cap_hz=400.0)
    # Several switches, each at another point of the waveform: a step that lands where the
    # signal is near zero would hide a click.
    for switch, profile in enumerate([quiet, client(volume_ceiling_dbfs=-6.0)] * 3):
        capture.blocks(7)
        switched_at = capture.now
        engine.set_client(profile)
        capture.seconds(0.3)
        assert capture.largest_step(switched_at - 1) <= 1.25 * before, f"a click at {switch}"
        if profile is quiet:
            settled = switched_at + int(2 * RAMP_SECONDS * RATE)
            assert 20 * math.log10(capture.peak(settled) / loud) < -11.0, "the ceiling applies"


def test_a_rhythm_starts_and_stops_in_time(pyo_server: Any, tmp_path: Path) -> None:
    engine = engine_for(
        SINE_SCALE.replace("reverb = 0.0", "reverb = 0.0\ntempo_bpm = 120")
        + '[[slots]]\naction = "rhythm"\nrhythm = "four"\n'
        '[[rhythms]]\nname = "four"\nsteps_per_beat = 1\nkick = "x"\n',
        tmp_path,
    )
    capture = started(pyo_server, engine)
    start = capture.now
    engine.press(1)
    capture.seconds(2.2)  # 120 bpm: a kick every 0.5 s, the first at once
    engine.press(1)
    stopped_at = capture.now
    capture.seconds(1.5)

    onsets = hits(capture.array(start, stopped_at))
    assert len(onsets) == 5, onsets
    gaps = np.diff(onsets) / RATE
    assert np.allclose(gaps, 0.5, atol=64 / RATE), gaps
    assert capture.peak(stopped_at + int(0.6 * RATE)) < 1e-4, "no hit after the stop"


def test_every_instrument_renders_dozens_of_sounding_voices_without_crashing() -> None:
    # pyo 1.1.0 crashed (segmentation fault) a few hundred blocks into 32 drone voices built
    # from a list of frequencies. In a child process, so that a crash fails this test instead
    # of ending the test run.
    from station.music.catalog import INSTRUMENT_NAMES

    script = (
        "from station.bench.polyphony import measure\n"
        f"for name in {INSTRUMENT_NAMES!r}:\n"
        "    measure(name, 48, 600)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_held_drones_keep_sounding_for_minutes_without_crashing() -> None:
    # pyo 1.1.0's SineLoop with feedback, which the drone used, crashed (segmentation fault)
    # within a minute or two of drones on these low notes. In a child process, so that a crash
    # fails this test instead of ending the test run.
    script = (
        "import pyo\n"
        "server = pyo.Server(audio='manual', nchnls=2, sr=48000, buffersize=64, duplex=0)\n"
        "server.deactivateMidi(); server.boot(); server.start()\n"
        "from station.sound.instruments import Drone\n"
        "drone = Drone(polyphony=12)\n"
        "out = drone.output.out()\n"
        "for hertz in (65.41, 73.42, 82.41, 98.0, 130.81, 146.83) * 2:\n"
        "    drone.note_on(hertz, 0.5)\n"
        "for block in range(100_000):\n"
        "    server.process()\n"
        "print(max(abs(float(out.get())) for _ in range(200) if server.process() is None))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    # Twelve voices at level 0.5 before the safety chain: between silence and 12, never NaN.
    assert 0.01 < float(result.stdout.split()[-1]) < 12.0, "still sounding at the end"


def test_an_unused_instrument_rests_and_wakes_in_time_for_the_next_press(
    pyo_server: Any, tmp_path: Path
) -> None:
    from station.sound.engine import REST_AFTER_SECONDS, SoundEngine

    (tmp_path / "bells").mkdir()
    (tmp_path / "pads").mkdir()
    bells = sound_set(tmp_path / "bells", SINE_SCALE + "[[slots]]\ndegree = 1\n")
    pads = sound_set(tmp_path / "pads", SINE_SCALE.replace('"sine"', '"pad"').replace(
        '"test-set"', '"pads"') + "[[slots]]\ndegree = 3\n")
    engine = SoundEngine(2, bells, client())
    capture = started(pyo_server, engine)
    engine.press(1)
    capture.seconds(0.2)
    engine.release(1)
    engine.set_sound_set(pads)
    assert engine.rest_unused(now=time.monotonic() + 1.0) == [], "too soon: notes ring out"
    capture.seconds(1.0)

    rested = engine.rest_unused(now=time.monotonic() + REST_AFTER_SECONDS)
    assert "sine" in rested and "pad" not in rested
    sine_workers = [w for v in engine.instruments["sine"].voices for w in v.workers]
    assert not any(worker.isPlaying() for worker in sine_workers)

    engine.set_sound_set(bells)
    start = capture.now
    engine.press(1)
    capture.seconds(0.5)
    onset = capture.first_sound(start)
    assert onset is not None and onset - start < 64, "the woken instrument sounds at once"
    assert abs(cents(measured_pitch(capture.array(start + RATE // 10, capture.now)), C4)) < 1


def midi_file(notes: list[list[int]]) -> bytes:
    """A format-0 Standard MIDI File: each inner list starts together, a beat apart."""
    events = b"\x00\xff\x51\x03\x07\xa1\x20"  # tempo meta event, skipped by the reader
    for chord in notes:
        for index, note in enumerate(chord):
            events += bytes([0 if index else 0x60, 0x90, note, 90])
        for index, note in enumerate(chord):
            # Note-offs as note-ons with velocity 0, in running status after the first.
            events += bytes([0, 0x90, note, 0]) if index == 0 else bytes([0, note, 0])
    events += b"\x00\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 0x60])
            + b"MTrk" + len(events).to_bytes(4, "big") + events)


def test_a_melody_from_a_midi_file_plays_its_tune(pyo_server: Any, tmp_path: Path) -> None:
    # C4, then a chord whose top note (E4) is the tune's, then G4.
    (tmp_path / "song.mid").write_bytes(midi_file([[60], [55, 64], [67]]))
    engine = engine_for(
        SINE_SCALE + '[melody]\nfile = "song.mid"\n[[slots]]\naction = "melody"\n', tmp_path
    )
    heard = pitches_of_presses(started(pyo_server, engine), engine, 4)
    for pitch, expected in zip(heard, (C4, E4, G4, C4), strict=True):
        assert abs(cents(pitch, expected)) < 1.0, f"heard {heard}"
