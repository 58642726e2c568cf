"""The therapists' words for the station's codes, and numbers and durations as they read them.

Every code a report shows has its words here once: the rejection reasons of the access filter
(`station.inputs.access.REASONS`), the event types (`EventType`) and the observation tags. A
test holds these tables to those lists, so a new code cannot reach a page without words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from station.contract.events import EventType
from station.inputs.access import BOUNCE, LOCKOUT, REASONS, STUCK, TOO_SHORT

REASON_WORDS = {
    TOO_SHORT: "too short",
    LOCKOUT: "too soon after the last press",
    STUCK: "switch held too long (stuck)",
    BOUNCE: "contact bounce",
}
"""Why a press was not counted, by the reason code the station records."""

REASON_ORDER = REASONS
"""The order reasons are listed in when their counts are equal."""

EVENT_WORDS = {
    EventType.SESSION_START: "session started",
    EventType.SESSION_END: "session ended",
    EventType.PRESS: "press",
    EventType.RELEASE: "release",
    EventType.REJECTED: "press not counted",
    EventType.CLIENT_CHANGED: "client or client settings changed",
    EventType.SOUND_SET_CHANGED: "sound set changed",
    EventType.VOLUME_CHANGED: "volume changed",
    EventType.OBSERVATION: "observation",
    EventType.STATION_STATUS: "station started or stopped, or its sound lost or back",
    EventType.CUE: "cue sounded",
    EventType.RESPONSE: "response to a cue",
    EventType.NO_RESPONSE: "no response to a cue",
    EventType.ANTICIPATION: "press while the cue sounded",
    EventType.OFF_TARGET: "press on another input than the cue's",
    EventType.ZONE: "zone entered on a sensor",
    EventType.MOVEMENT: "movement on a sensor",
    EventType.SENSOR_LOST: "sensor gave no readings",
    EventType.SENSOR_BACK: "sensor read again",
    EventType.SENSOR_CALIBRATED: "sensor calibrated",
}

PROMPT_LEVELS = {
    "independent": "independent",
    "gestural": "gestural prompt",
    "verbal": "verbal prompt",
    "model": "model",
    "partial-physical": "partial physical",
    "full-physical": "full physical",
}
"""The prompt levels, least to most support: the console's observation buttons."""

TAG_WORDS = {
    **PROMPT_LEVELS,
    "prompted": "prompted",
    "hand-over-hand": "hand-over-hand",
}
"""Every observation tag (``cmd/tag_observation``), in the order reports list them; the last
two are the older, coarser ones (hand-over-hand is another name for full physical)."""


def reason_words(code: str) -> str:
    """The words for a rejection reason; a code the station does not define is named."""
    return REASON_WORDS.get(code, f"other reason ({code})")


def event_words(kind: str) -> str:
    """What an event is, by its type; a type this code does not know is shown as it came."""
    try:
        return EVENT_WORDS[EventType(kind)]
    except ValueError:
        return kind


def by_count(counts: Mapping[str, int], order: Sequence[str] = REASON_ORDER) -> list[str]:
    """The codes of `counts`, most first; ties in `order`, then by name."""
    rank = {code: index for index, code in enumerate(order)}
    return sorted(counts, key=lambda code: (-counts[code], rank.get(code, len(rank)), code))


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 press``, ``2 presses``, ``1,197 presses``."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"


def join_words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def half_up(value: float) -> int:
    """`value` rounded to the nearest whole number, halves up (Python's round goes to even)."""
    return math.floor(value + 0.5)


def one_decimal(value: float) -> str:
    """``7.0``: one decimal, halves up."""
    return f"{math.floor(value * 10 + 0.5) / 10:.1f}"


def duration_words(seconds: float) -> str:
    """``42 s``, ``3.6 s`` (under 10 s), ``4 min 10 s``, ``12 min``, ``1 h 5 min``."""
    if seconds < 10:
        text = one_decimal(seconds)
        return f"{text.removesuffix('.0')} s"
    whole = half_up(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def session_length_words(seconds: float) -> str:
    """The length of a session as an adjective: ``12-minute``, ``45-second``, ``1-hour``."""
    if seconds < 59.5:
        return f"{half_up(seconds)}-second"
    minutes = half_up(seconds / 60)
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes // 60}-hour"
    return f"{minutes}-minute"


def clock(seconds: float) -> str:
    """Seconds from the start as ``m:ss`` (``h:mm:ss`` from an hour), for timelines."""
    whole = max(0, half_up(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def date_words(when: datetime) -> str:
    """``Tuesday 25 November 2025`` (English whatever the machine's locale)."""
    return f"{_DAYS[when.weekday()]} {when.day} {_MONTHS[when.month - 1]} {when.year}"


def indefinite_article(number: int) -> str:
    """``an`` before a number said with a vowel first (8, 11, 18, 80-89, 800-899, 8,000,
    11,000...), else ``a``: "an 18-minute session", "a 12-minute session"."""
    # What is said first: the leading group of three digits (8, 11, 18, 80s, 800s).
    lead = number
    while lead >= 1000:
        lead //= 1000
    return "an" if str(lead).startswith("8") or lead in (11, 18) else "a"
