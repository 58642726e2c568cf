"""The "objective data" paragraph: a session's numbers in plain clinical English, which the
therapist edits and saves as the session note.

Only data, no interpretation: who took part, how long, which sound sets, accepted presses and
their rate, the longest engaged stretch, presses not counted and why, and how many tagged
responses were independent. The same report always gives the same words.
"""

from __future__ import annotations

from typing import Any

from station.dashboard.reports.session_report import SessionReport
from station.dashboard.reports.words import (
    by_count,
    duration_words,
    indefinite_article,
    join_words,
    one_decimal,
    plural,
    reason_words,
    session_length_words,
)


def objective_data(report: SessionReport) -> str:
    """The paragraph for `report`, e.g. ``C-7F3K took part in a 12-minute session with the
    calm-bells sound set. 84 presses were accepted (7.0 per minute) on 3 inputs; the longest
    engaged stretch was 4 min 10 s. ...``"""
    sentences = [_who(report), _accepted(report)]
    if report.accepted or report.rejected:
        sentences.append(_not_counted(report))
    sentences.append(_tagged(report))
    cues = cue_words(report.summary)
    if cues:
        sentences.append(f"{cues}.")
    sentences.extend(f"Goal {name}: {words}." for name, words in goal_lines(report.summary))
    sentences.extend(f"On the {name} sensor: {words}."
                     for name, words in sensor_lines(report.summary))
    if report.ended_by == "interrupted":
        sentences.append("The session was not ended at the station (it was interrupted); "
                         "these figures cover it up to its last recorded event.")
    return " ".join(sentences)


def cue_words(summary: dict[str, Any]) -> str:
    """The session's cues in a sentence ("" without one): "3 of 4 cues were answered (median
    2.1 s after the cue began); 1 press came while a cue sounded"."""
    cues = summary.get("cues") or {}
    opportunities = int(cues.get("opportunities", 0))
    if not opportunities:
        return ""
    answered = int(cues.get("responses", 0))
    verb = "was" if answered == 1 else "were"
    text = f"{answered} of {plural(opportunities, 'cue')} {verb} answered"
    median = (cues.get("latency_ms") or {}).get("median")
    if median is not None:
        text += f" (median {one_decimal(median / 1000)} s after the cue began)"
    early = int(cues.get("anticipations", 0))
    if early:
        text += (f"; {plural(early, 'press', 'presses')} came while a cue sounded")
    return text


def goal_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Each goal the session's summary scored, and its result in words."""
    lines = []
    for goal in summary.get("goals") or []:
        criterion = goal.get("criterion", {})
        run = int(criterion.get("sessions", 1))
        target = (f"criterion {criterion.get('percent', 0):g} % in "
                  + ("one session" if run == 1 else f"{run} sessions in a row"))
        if goal.get("behaviour") == "engaged-minutes":
            minutes = (goal.get("condition") or {}).get("minutes", 0)
            met = "met" if goal.get("successes") else "not met"
            lines.append((goal["goal"], f"{one_decimal(goal.get('minutes', 0))} of {minutes:g} "
                                        f"minutes engaged, {met} ({target})"))
            continue
        if goal.get("percent") is None:
            lines.append((goal["goal"], f"no opportunity in this session ({target})"))
            continue
        chances = plural(int(goal.get("opportunities", 0)), "opportunity", "opportunities")
        lines.append((goal["goal"], f"{goal.get('successes', 0)} of {chances} met, "
                                    f"{goal['percent']:g} % ({target})"))
    return lines


def sensor_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Each variable sensor's use in words: "4 movements, reaching 40 % to 92 % of the
    client's range; zone 1 entered 3 times (4.2 s), zone 2 entered once (1.0 s)"."""
    lines = []
    for name, sensor in sorted((summary.get("sensors") or {}).items()):
        movements = int(sensor.get("movements", 0))
        text = plural(movements, "movement")
        peaks = sensor.get("peaks")
        if peaks:
            reach = (f"{round(peaks[0] * 100)} %" if round(peaks[0] * 100) == round(
                peaks[1] * 100) else f"{round(peaks[0] * 100)} % to {round(peaks[1] * 100)} %")
            text += f", reaching {reach} of the client's range"
        entries = sensor.get("zone_entries") or {}
        seconds = sensor.get("zone_seconds") or {}
        zones = []
        for zone in sorted(entries, key=int):
            count = int(entries[zone])
            times = "once" if count == 1 else f"{count} times"
            zones.append(f"zone {zone} entered {times} ({one_decimal(seconds.get(zone, 0.0))} s)")
        if zones:
            text += "; " + ", ".join(zones)
        lines.append((name, text))
    return lines


def _who(report: SessionReport) -> str:
    clients = join_words(list(report.clients)) or "No client"
    length = "a session"
    if report.duration_s is not None:
        words = session_length_words(report.duration_s)
        length = f"{indefinite_article(int(words.split('-')[0]))} {words} session"
    names = list(dict.fromkeys(period.sound_set for period in report.sound_sets))
    if not names:
        return f"{clients} took part in {length}."
    kind = "sound set" if len(names) == 1 else "sound sets"
    return f"{clients} took part in {length} with the {join_words(names)} {kind}."


def _accepted(report: SessionReport) -> str:
    if report.accepted == 0:
        return "No presses were accepted."
    verb = "was" if report.accepted == 1 else "were"
    text = f"{plural(report.accepted, 'press', 'presses')} {verb} accepted"
    rate = report.presses_per_minute
    if rate is not None:
        text += f" ({one_decimal(rate)} per minute)"
    used = sum(1 for tally in report.inputs if tally.accepted)
    text += f" on {plural(used, 'input')}"
    return f"{text}; the longest engaged stretch was {duration_words(report.longest_stretch_s)}."


def _not_counted(report: SessionReport) -> str:
    total = sum(report.rejected.values())
    if total == 0:
        return "Every press was counted."
    verb = "was" if total == 1 else "were"
    head = f"{plural(total, 'press', 'presses')} {verb} not counted"
    codes = by_count(report.rejected)
    if len(codes) == 1:
        return f"{head} ({reason_words(codes[0])})."
    return f"{head}: " + ", ".join(
        f"{report.rejected[code]:,} {reason_words(code)}" for code in codes) + "."


def _tagged(report: SessionReport) -> str:
    if report.tagged == 0:
        return "No responses were tagged."
    if report.independent == 0:
        if report.tagged == 1:
            return "The 1 tagged response was not independent."
        return f"None of the {report.tagged:,} tagged responses were independent."
    noun = "tagged response" if report.tagged == 1 else "tagged responses"
    verb = "was" if report.independent == 1 else "were"
    return f"{report.independent:,} of {report.tagged:,} {noun} {verb} independent."
