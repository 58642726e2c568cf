"""Goal scoring, compared with a model written separately from it on random sessions."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from station.config.client import PROMPT_LEVELS, GoalSection
from station.contract.events import EventType
from station.telemetry.aggregate import session_summary
from station.telemetry.eventlog import Event

INPUTS = ("big-red", "big-blue", "head-switch")
TAGS = (*PROMPT_LEVELS, "hand-over-hand", "prompted", None)


@dataclass(frozen=True)
class Played:
    """One cue as the random session plays it: what the model knows."""

    targets: tuple[str, ...]
    attempts: int  # how often it sounded
    outcome: str  # "response", "missed" or "cancelled"
    answered_on: str
    latency_ms: float
    tag: str | None  # the prompt level the therapist tagged, if any


played_cues = st.builds(
    Played,
    targets=st.lists(st.sampled_from(INPUTS), min_size=1, max_size=2, unique=True).map(tuple),
    attempts=st.integers(1, 3),
    outcome=st.sampled_from(["response", "missed", "cancelled"]),
    answered_on=st.sampled_from(INPUTS),
    latency_ms=st.floats(800.0, 9000.0).map(lambda value: round(value, 1)),
    tag=st.sampled_from(TAGS),
)

goals = st.builds(
    GoalSection,
    name=st.just("goal"),
    behaviour=st.just("responds"),
    inputs=st.lists(st.sampled_from(INPUTS), max_size=2, unique=True),
    within_seconds=st.sampled_from([2.0, 5.0, 8.0]),
    prompt_at_most=st.sampled_from(PROMPT_LEVELS),
)


class Session:
    """Writes the events a played session records."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.at = 100.0

    def add(self, kind: str, name: str | None = None, **detail: Any) -> None:
        self.at += 0.5
        self.events.append(Event(len(self.events) + 1, f"{len(self.events):032x}", kind, "s1",
                                 "C-7F3K", "calm-bells", name, None, 1.7e9 + self.at, self.at,
                                 None, detail or None))


def record(played: list[Played]) -> list[Event]:
    session = Session()
    session.add(EventType.SESSION_START)
    for number, cue in enumerate(played):
        cue_id = f"{number:08x}"
        for attempt in range(1, cue.attempts + 1):
            session.add(EventType.CUE, cue=cue_id, attempt=attempt, targets=list(cue.targets),
                        window_ms=10000, call_ms=750, level=0.5, onset_sample=0)
            last = attempt == cue.attempts
            if last and cue.outcome == "response":
                kind = (EventType.RESPONSE if cue.answered_on in cue.targets
                        else EventType.OFF_TARGET)
                if kind == EventType.OFF_TARGET:  # then the cue goes unanswered
                    session.add(kind, cue.answered_on, cue=cue_id, attempt=attempt,
                                after_ms=cue.latency_ms)
                    session.add(EventType.NO_RESPONSE, cue=cue_id, attempt=attempt, final=True)
                else:
                    session.add(kind, cue.answered_on, cue=cue_id, attempt=attempt,
                                latency_ms=cue.latency_ms)
            elif cue.outcome == "missed" or not last:
                session.add(EventType.NO_RESPONSE, cue=cue_id, attempt=attempt, final=last)
        if cue.tag is not None:
            session.add(EventType.OBSERVATION, tag=cue.tag, cue=cue_id)
    session.add(EventType.SESSION_END)
    return session.events


def model_score(goal: GoalSection, played: list[Played]) -> tuple[int, int, list[float],
                                                                     dict[str, int]]:
    """(opportunities, successes, latencies counted, answers by prompt level), by hand."""
    order = ["independent", "gestural", "verbal", "model", "partial-physical",
             "full-physical"]
    allowed = order[:order.index(goal.prompt_at_most) + 1]
    opportunities = successes = 0
    latencies: list[float] = []
    levels: dict[str, int] = {}
    for cue in played:
        if cue.outcome == "cancelled":
            continue
        if goal.inputs and not set(goal.inputs) & set(cue.targets):
            continue
        opportunities += 1
        answered = cue.outcome == "response" and cue.answered_on in cue.targets
        if not answered:
            continue
        latencies.append(cue.latency_ms)
        level = {"hand-over-hand": "full-physical", None: "independent"}.get(cue.tag, cue.tag)
        assert level is not None
        levels[level] = levels.get(level, 0) + 1
        level_ok = level in allowed or (level == "prompted" and goal.prompt_at_most
                                        == "full-physical")
        if ((not goal.inputs or cue.answered_on in goal.inputs)
                and cue.latency_ms <= goal.within_seconds * 1000 and level_ok):
            successes += 1
    return opportunities, successes, latencies, levels


@settings(max_examples=300, deadline=None)
@given(played=st.lists(played_cues, max_size=12), goal=goals)
def test_a_responds_goal_is_scored_as_the_model_scores_it(played: list[Played],
                                                          goal: GoalSection) -> None:
    summary = session_summary(record(played), 10.0, lambda client: [goal])
    [scored] = summary["goals"]
    opportunities, successes, latencies, levels = model_score(goal, played)
    assert scored["opportunities"] == opportunities
    assert scored["successes"] == successes
    expected = round(100 * successes / opportunities, 1) if opportunities else None
    assert scored["percent"] == expected
    assert scored["latency_ms"]["count"] == len(latencies)
    if latencies:
        assert scored["latency_ms"]["median"] == round(statistics.median(latencies), 1)
        assert scored["latency_ms"]["q1"] <= scored["latency_ms"]["median"] <= scored[
            "latency_ms"]["q3"]
    assert scored["by_prompt_level"] == levels
    assert scored["criterion"] == {"percent": goal.criterion_percent,
                                   "sessions": goal.criterion_sessions}
    cues = summary["cues"]
    assert cues["cues_sounded"] == sum(cue.attempts for cue in played)
    assert cues["opportunities"] == sum(cue.outcome != "cancelled" for cue in played)


def test_an_engaged_minutes_goal_is_met_by_enough_engaged_time() -> None:
    session = Session()
    session.add(EventType.SESSION_START)
    for _ in range(5):  # presses 0.5 s apart: one engaged stretch of 2 s
        session.add(EventType.PRESS, "big-red")
    session.add(EventType.SESSION_END)
    met = GoalSection(name="engaged", behaviour="engaged-minutes", minutes=0.03)
    unmet = GoalSection(name="longer", behaviour="engaged-minutes", minutes=0.05)
    scored = session_summary(session.events, 10.0, lambda client: [met, unmet])["goals"]
    assert [(goal["goal"], goal["successes"], goal["percent"], goal["minutes"])
            for goal in scored] == [("engaged", 1, 100.0, 0.0), ("longer", 0, 0.0, 0.0)]
