"""The console's feed in the therapist's words, from stored events (pure: no browser)."""

from __future__ import annotations

from typing import Any

from station.dashboard.feed import feed_lines
from station.dashboard.reports.words import REASON_WORDS


def event(seq: int, kind: str, **keys: Any) -> dict[str, Any]:
    return {"id": f"e{seq}", "seq": seq, "type": kind, "station": "room-1", "site": "demo-site",
            "session": "s1", "client": "C-7F3K", "sound_set": "calm-bells",
            "t_wall": 1764075600.0 + seq, "t_mono": 100.0 + seq, **keys}


EVENTS = [
    event(1, "session_start", client="C-7F3K", detail={"volume": 1.0}),
    event(2, "press", input="big-red"),
    event(3, "release", input="big-red", hold_ms=420.0, press_t_mono=102.0,
          press_t_wall=1764075602.0),
    event(4, "rejected", input="big-red", reason="lockout"),
    event(5, "rejected", input="head-switch", reason="too_short"),
    event(6, "observation", detail={"tag": "hand-over-hand", "note": "needed help to reach"}),
    event(7, "volume_changed", detail={"volume": 0.5}),
    event(8, "sound_set_changed", detail={"sound_set": "drum-circle"}),
    event(9, "press", input="big-blue"),
    event(10, "session_end"),
]


def test_the_feed_says_what_happened_newest_first_in_the_words_of_the_reports() -> None:
    assert [line.text for line in feed_lines(EVENTS, show_notes=True)] == [
        "Session ended",
        "Press on big-blue",  # not released yet: no hold time
        "Sound set drum-circle",
        "Volume 50 % of the client's ceiling",
        "Observation: hand-over-hand · “needed help to reach”",
        f"Not counted on head-switch: {REASON_WORDS['too_short']}",
        "Not counted on big-red: too soon after the last press",
        "Press on big-red, held 0.4 s",
        "Session started with C-7F3K and calm-bells",
    ]


def test_staff_never_see_observations_or_notes() -> None:
    lines = feed_lines(EVENTS, show_notes=False)
    assert not any("Observation" in line.text or "help" in line.text for line in lines)
    assert len(lines) == 8


def test_a_therapist_sees_only_the_events_of_her_own_clients() -> None:
    others = [event(11, "client_changed", client="C-2M9Q", detail={"client": "C-2M9Q"}),
              event(12, "observation", client="C-2M9Q", detail={"note": "not for anna"})]
    lines = feed_lines(EVENTS + others, show_notes=True, clients=frozenset({"C-7F3K"}))
    assert lines == feed_lines(EVENTS, show_notes=True)
    assert len(feed_lines(EVENTS + others, show_notes=True)) == len(lines) + 2


def test_the_feed_keeps_the_newest_lines_only() -> None:
    assert [line.text for line in feed_lines(EVENTS, show_notes=True, limit=2)] == [
        "Session ended", "Press on big-blue"]
