"""The sound engine rendered by pyo's manual server: assertions on the samples that come out."""

from __future__ import annotations

import math
from typing import Any

import pytest

from station.config import ClientProfile, SoundSet, load_station
from tests.conftest import SHIPPED_CONFIG
from tests.sound.render import BLOCK, RATE, RING_OUT_SECONDS, Capture


@pytest.fixture
def shipped() -> Any:
    return load_station(SHIPPED_CONFIG / "station.toml")


def make_engine(shipped: Any, sound_set: SoundSet | None = None,
                client: ClientProfile | None = None) -> Any:
    from station.sound.engine import SoundEngine

    return SoundEngine(2, sound_set or shipped.sound_set, client or shipped.client)


def test_silence_until_a_press_then_sound_in_the_next_block(pyo_server: Any, shipped: Any) -> None:
    engine = make_engine(shipped)
    capture = Capture(pyo_server, engine)
    capture.blocks(100)
    assert capture.peak() == 0.0, "the station must be silent until someone presses"

    pressed_at = len(capture.samples)
    assert engine.press(1)
    capture.blocks(50)

    onset = capture.first_sound()
    assert onset is not None, "a press must make a sound"
    # The press lands in the block rendered right after it, not later.
    assert pressed_at <= onset < pressed_at + BLOCK


def test_every_voice_at_once_never_exceeds_the_client_ceiling(
    pyo_server: Any, shipped: Any
) -> None:
    ceiling_dbfs = shipped.client.client.volume_ceiling_dbfs
    engine = make_engine(shipped)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)  # past the start-up fade-in
    for _ in range(3):  # more notes than voices: stealing under full load
        for slot in range(1, 5):
            engine.press(slot)
            capture.blocks(2)
    capture.seconds(0.5)

    peak = capture.peak()
    assert peak > 0.1 * 10 ** (ceiling_dbfs / 20), "the notes should be clearly audible"
    assert 20 * math.log10(peak) <= ceiling_dbfs + 0.01


def test_a_lower_ceiling_turns_the_same_note_down(pyo_server: Any, shipped: Any) -> None:
    quiet = shipped.clients["C-2M9Q"]  # ceiling -18 dBFS against C-7F3K's -12
    loud_engine = make_engine(shipped)
    capture = Capture(pyo_server, loud_engine)
    capture.seconds(0.6)
    loud_engine.press(1)
    capture.seconds(0.3)
    loud_peak = capture.peak()
    loud_engine.release(1)
    capture.seconds(2.5)

    loud_engine.set_client(quiet)
    capture.seconds(0.2)
    start = len(capture.samples)
    loud_engine.press(1)
    capture.seconds(0.3)
    quiet_peak = capture.peak(start)

    assert 20 * math.log10(quiet_peak / loud_peak) == pytest.approx(-6.0, abs=0.5)


def test_released_note_rings_out_and_then_there_is_silence(pyo_server: Any, shipped: Any) -> None:
    engine = make_engine(shipped)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)
    engine.press(2)
    capture.seconds(0.2)
    engine.release(2)
    released_at = len(capture.samples)
    capture.seconds(0.05)
    assert capture.peak(released_at) > 0, "a release rings out instead of cutting off"
    capture.seconds(RING_OUT_SECONDS)
    assert capture.peak(len(capture.samples) - RATE // 10) < 1e-4


def test_releasing_a_stolen_voice_leaves_the_newer_note_sounding(
    pyo_server: Any, shipped: Any
) -> None:
    from station.sound.engine import SoundEngine

    engine = SoundEngine(2, shipped.sound_set, shipped.client, polyphony=1)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)
    engine.press(1)
    capture.blocks(4)
    engine.press(2)  # steals the only voice
    capture.blocks(4)
    engine.release(1)  # slot 1 no longer owns that voice
    capture.seconds(0.1)
    assert engine.instruments["bell"].voices[0].held


def test_a_slot_the_sound_set_lacks_plays_nothing(pyo_server: Any, shipped: Any) -> None:
    engine = make_engine(shipped)
    capture = Capture(pyo_server, engine)
    assert not engine.press(len(shipped.sound_set.slots) + 1)
    capture.seconds(0.2)
    assert capture.peak() == 0.0


def test_switching_sound_set_releases_held_notes(pyo_server: Any, shipped: Any) -> None:
    engine = make_engine(shipped)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)
    engine.press(1)
    capture.seconds(0.1)
    engine.set_sound_set(shipped.sound_sets["warm-strings"])
    capture.seconds(RING_OUT_SECONDS)
    assert capture.peak(len(capture.samples) - RATE // 10) < 1e-4, "no hung note after a swap"
    start = len(capture.samples)
    engine.press(1)
    capture.seconds(0.1)
    assert capture.peak(start) > 0.01, "the new sound set plays"
