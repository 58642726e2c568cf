"""A session's cues and the client's goals scored from its events (docs/cues.md, "Scoring").

Pure: the events of one session in, the summary's ``cues`` and ``goals`` out. An opportunity
is one cue (with its re-cues) that ended with a `response` or a final `no_response`; a cue
cancelled by the therapist, or cut off by the end of the session, is none. Its prompt level
is the last prompt-level tag attached to it (`observation` with ``detail.cue``); untagged, it
was answered independently. ``prompted`` (support of no stated level) meets only a goal that
allows full physical support.
"""

from __future__ import annotations

import datetime
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from station.config.client import PROMPT_ALIASES, PROMPT_LEVELS, GoalSection
from station.contract.events import EventType
from station.telemetry.eventlog import Event

UNSTATED_PROMPT = "prompted"


@dataclass
class Opportunity:
    """One cue, as its events tell it."""

    cue: str
    targets: tuple[str, ...] = ()
    attempts: int = 0
    answered_on: str | None = None
    latency_ms: float | None = None
    missed: bool = False  # a final no_response
    prompt: str = "independent"
    anticipations: int = 0
    off_target: int = 0
    order: int = field(default=0, compare=False)

    @property
    def ended(self) -> bool:
        return self.answered_on is not None or self.missed


def opportunities(events: Iterable[Event]) -> list[Opportunity]:
    """Every cue of the session in the order they sounded; `ended` tells the opportunities."""
    found: dict[str, Opportunity] = {}
    for event in events:
        detail = event.detail or {}
        cue = detail.get("cue")
        if not isinstance(cue, str):
            continue
        if event.type == EventType.CUE:
            seen = found.setdefault(cue, Opportunity(cue, order=len(found)))
            seen.targets = tuple(detail.get("targets", ()))
            seen.attempts += 1
            continue
        seen_or_none = found.get(cue)
        if seen_or_none is None:
            continue  # its cue event is not in this session
        seen = seen_or_none
        if event.type == EventType.RESPONSE and seen.answered_on is None:
            seen.answered_on = event.input
            seen.latency_ms = float(detail.get("latency_ms", 0.0))
        elif event.type == EventType.NO_RESPONSE and detail.get("final"):
            seen.missed = True
        elif event.type == EventType.ANTICIPATION:
            seen.anticipations += 1
        elif event.type == EventType.OFF_TARGET:
            seen.off_target += 1
        elif event.type == EventType.OBSERVATION and detail.get("tag"):
            tag = PROMPT_ALIASES.get(detail["tag"], detail["tag"])
            if tag in PROMPT_LEVELS or tag == UNSTATED_PROMPT:
                seen.prompt = tag
    return sorted(found.values(), key=lambda opportunity: opportunity.order)


def quartiles(values: Sequence[float]) -> dict[str, float | int]:
    """count, median and the middle half (q1 to q3) of `values`, ms."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    if len(ordered) == 1:
        q1 = q3 = ordered[0]
    else:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return {"count": len(ordered), "median": round(statistics.median(ordered), 1),
            "q1": round(q1, 1), "q3": round(q3, 1)}


def cues_summary(found: Sequence[Opportunity]) -> dict[str, Any]:
    """The session's cues: how they ended, and the latencies of the responses."""
    ended = [item for item in found if item.ended]
    return {
        "opportunities": len(ended),
        "responses": sum(1 for item in ended if item.answered_on is not None),
        "no_responses": sum(1 for item in ended if item.missed),
        "cues_sounded": sum(item.attempts for item in found),
        "anticipations": sum(item.anticipations for item in found),
        "off_target": sum(item.off_target for item in found),
        "latency_ms": quartiles([item.latency_ms for item in ended
                                 if item.latency_ms is not None]),
    }


def _prompt_within(prompt: str, most: str) -> bool:
    if prompt == UNSTATED_PROMPT:
        return most == PROMPT_LEVELS[-1]
    return PROMPT_LEVELS.index(prompt) <= PROMPT_LEVELS.index(most)


def score_goal(goal: GoalSection, found: Sequence[Opportunity], active_s: float
               ) -> dict[str, Any]:
    """One goal's result in this session."""
    criterion = {"percent": goal.criterion_percent, "sessions": goal.criterion_sessions}
    scored: dict[str, Any] = {"goal": goal.name, "behaviour": goal.behaviour,
                              "condition": goal_condition(goal), "criterion": criterion}
    if goal.description:
        scored["description"] = goal.description
    if goal.target_date is not None:
        scored["target_date"] = goal.target_date.isoformat()
    if goal.behaviour == "engaged-minutes":
        minutes = round(active_s / 60.0, 1)
        met = active_s / 60.0 >= goal.minutes
        return {**scored, "minutes": minutes, "opportunities": 1, "successes": int(met),
                "percent": 100.0 if met else 0.0}
    wanted = set(goal.inputs)
    counted = [item for item in found if item.ended
               and (not wanted or wanted.intersection(item.targets))]
    successes = [
        item for item in counted
        if item.answered_on is not None and (not wanted or item.answered_on in wanted)
        and item.latency_ms is not None and item.latency_ms <= goal.within_seconds * 1000.0
        and _prompt_within(item.prompt, goal.prompt_at_most)
    ]
    by_prompt: dict[str, int] = {}
    for item in counted:
        if item.answered_on is not None:
            by_prompt[item.prompt] = by_prompt.get(item.prompt, 0) + 1
    percent = round(100.0 * len(successes) / len(counted), 1) if counted else None
    return {
        **scored, "opportunities": len(counted), "successes": len(successes),
        "percent": percent,
        "latency_ms": quartiles([item.latency_ms for item in counted
                                 if item.latency_ms is not None]),
        "by_prompt_level": by_prompt,
    }


def goal_condition(goal: GoalSection) -> dict[str, Any]:
    """What the goal asked for, in the summary: so that the result can be read (and scored
    again from the events) without the client profile as it was then."""
    if goal.behaviour == "engaged-minutes":
        return {"minutes": goal.minutes}
    return {"inputs": list(goal.inputs), "within_seconds": goal.within_seconds,
            "prompt_at_most": goal.prompt_at_most}


def goals_from_summary(summary: dict[str, Any]) -> list[GoalSection]:
    """The goals a published summary scored, rebuilt from its ``condition`` and
    ``criterion`` (for the dashboard's own summary of the same events)."""
    goals = []
    for scored in summary.get("goals", []):
        criterion = scored.get("criterion", {})
        goals.append(GoalSection.model_validate({
            "name": scored["goal"], "behaviour": scored["behaviour"],
            "description": scored.get("description", ""), **scored.get("condition", {}),
            "criterion_percent": criterion.get("percent", 80.0),
            "criterion_sessions": criterion.get("sessions", 3),
            **({"target_date": datetime.date.fromisoformat(scored["target_date"])}
               if scored.get("target_date") else {}),
        }))
    return goals


def goals_summary(goals: Sequence[GoalSection], found: Sequence[Opportunity],
                  active_s: float) -> list[dict[str, Any]]:
    return [score_goal(goal, found, active_s) for goal in goals]
