"""Every shipped sound set plays on every slot, under the ceiling, and falls silent after."""

from __future__ import annotations

import math
from typing import Any

import pytest

from station.config import load_station
from tests.conftest import SHIPPED_CONFIG
from tests.sound.render import RATE, RING_OUT_SECONDS, Capture

SHIPPED = load_station(SHIPPED_CONFIG / "station.toml")
TOGGLES = ("drone", "rhythm")


def test_at_least_six_sound_sets_ship_and_the_station_starts_on_calm_bells() -> None:
    assert len(SHIPPED.sound_sets) >= 6
    assert SHIPPED.config.station.sound_set == "calm-bells"


@pytest.mark.parametrize("name", sorted(SHIPPED.sound_sets))
def test_every_slot_of_a_shipped_sound_set_sounds_and_then_falls_silent(
    pyo_server: Any, name: str
) -> None:
    from station.sound.engine import SoundEngine

    sound_set = SHIPPED.sound_sets[name]
    client = SHIPPED.client
    ceiling = 10 ** (client.client.volume_ceiling_dbfs / 20)
    engine = SoundEngine(2, sound_set, client)
    capture = Capture(pyo_server, engine)
    capture.seconds(0.6)
    for slot, config in enumerate(sound_set.slots, start=1):
        start = capture.now
        engine.press(slot)
        capture.seconds(1.0 if config.action == "rhythm" else 0.5)
        engine.release(slot)
        if config.action in TOGGLES:
            engine.press(slot)  # the second press stops it
            engine.release(slot)
        loudest = capture.peak(start)
        assert loudest > 0.05 * ceiling, f"slot {slot} ({config.action}) is nearly silent"
        capture.seconds(RING_OUT_SECONDS)
        assert capture.peak(capture.now - RATE // 10) < 1e-4, f"slot {slot} still sounds"
    assert engine.voices_held() == 0
    assert 20 * math.log10(capture.peak()) <= client.client.volume_ceiling_dbfs + 0.001
