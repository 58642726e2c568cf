"""The rooms page's words for what is wrong at a station (pure: from what the store keeps)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from station.dashboard.rooms import problems_of
from station.dashboard.store import StationKey, StationView


def view(health: dict[str, Any]) -> StationView:
    return StationView(StationKey("demo-site", "room-1"), "online", 0.0, 0.0, None, 0,
                       health=health)


@pytest.mark.parametrize(("problem", "words"), [
    ("stopped: the jack server shut down", "the sound server (jack) shut down"),
    ("stalled: no audio block for 2.0 s", "the sound card stopped playing (silent for 2.0 s)"),
    ("stopped: the null backend's pacing thread died", "the null backend's pacing thread died"),
])
def test_lost_audio_is_said_with_the_time_and_the_reason_in_words(problem: str,
                                                                  words: str) -> None:
    now = time.mktime((2026, 12, 1, 14, 30, 0, 0, 0, -1))
    lost_at = time.mktime((2026, 12, 1, 14, 2, 10, 0, 0, -1))
    found = problems_of(view({"audio": "lost", "audio_problem": problem,
                              "audio_since": lost_at}), now)
    assert found == (f"Audio lost since 14:02: {words}. Presses are still counted and the "
                     "station tries again by itself; check the speakers' power and cable.",)


def test_playing_audio_and_a_health_without_audio_say_nothing() -> None:
    assert problems_of(view({"audio": "playing", "audio_problem": None,
                             "audio_since": 1.0}), 2.0) == ()
    assert problems_of(view({"backlog": 0}), 2.0) == ()
