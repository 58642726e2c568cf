"""The access filter with explicit timestamps: each setting, and properties on random edges.

Times are monotonic seconds chosen by the test; deadlines are applied by calling `tick`, the
way the station's scheduler thread does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.config import AccessSettings
from station.contract.events import EventType
from station.inputs.access import (
    BOUNCE,
    BOUNCE_REPORT_SECONDS,
    LATCH,
    LOCKOUT,
    MOMENTARY,
    STUCK,
    TIMED,
    TOO_SHORT,
    AccessFilter,
    Action,
)

PRESS, RELEASE, REJECTED = EventType.PRESS, EventType.RELEASE, EventType.REJECTED

Edge = tuple[float, bool]


def run(
    access: AccessFilter, edges: Iterable[Edge], until: float, *, tick: bool = True
) -> list[Action]:
    """Feed `edges`; with `tick`, apply each deadline when it falls due (a punctual
    scheduler), else only at `until` (a scheduler that never woke)."""
    actions: list[Action] = []
    for at, active in edges:
        while tick and access.deadline <= at:
            actions += access.tick(access.deadline)
        actions += access.edge(active, at)
    while tick and access.deadline <= until:
        actions += access.tick(access.deadline)
    actions += access.tick(until)
    return actions


def kinds(actions: list[Action]) -> list[tuple[str, str]]:
    return [(action.kind, action.reason) for action in actions if action.reason != BOUNCE]


def chatter(start: float, level: bool, bounces: int, period: float = 0.0005) -> list[Edge]:
    """An edge to `level` at `start` followed by `bounces` edges every `period` seconds,
    ending in `level` when `bounces` is even."""
    return [(start + step * period, level if step % 2 == 0 else not level)
            for step in range(bounces + 1)]


def test_chatter_of_1khz_for_5ms_is_one_press_and_one_bounce_report() -> None:
    access = AccessFilter(AccessSettings(debounce=0.020))
    edges = chatter(10.0, True, 10) + chatter(10.3, False, 10)
    actions = run(access, edges, 12.0)
    assert actions[0] == Action(PRESS, 10.0), "the first edge acts at once, with no delay"
    notes = [action for action in actions if action.reason != BOUNCE]
    assert [(note.kind, note.at) for note in notes] == [(PRESS, 10.0), (RELEASE, 10.3)]
    bounce_reports = [action for action in actions if action.reason == BOUNCE]
    # The press's 10 swallowed edges are reported at once; the release's 10 within a second
    # of that report wait for the second to pass: two events for 20 bounces, never 20.
    assert [(report.at, report.amount) for report in bounce_reports] == [
        (10.02, 10), (10.02 + BOUNCE_REPORT_SECONDS, 10)
    ]
    assert access.rejected[BOUNCE] == 20


def test_a_chattering_switch_is_reported_at_most_once_a_second() -> None:
    access = AccessFilter(AccessSettings(debounce=0.020))
    # A broken switch chattering every 3 ms for 10 seconds.
    edges = [(5.0 + step * 0.003, step % 2 == 0) for step in range(3334)]
    actions = run(access, edges, 20.0)
    reports = [action for action in actions if action.reason == BOUNCE]
    assert len(reports) <= 11
    assert all(b.at - a.at >= BOUNCE_REPORT_SECONDS for a, b in itertools.pairwise(reports))
    # Every edge is either a change the music followed (a press or a release here) or bounce.
    followed = sum(1 for action in actions if action.kind in (PRESS, RELEASE))
    assert sum(report.amount for report in reports) == len(edges) - followed


def test_a_tap_shorter_than_the_window_is_followed_when_the_window_ends() -> None:
    access = AccessFilter(AccessSettings(debounce=0.020))
    actions = run(access, [(1.0, True), (1.005, False)], 2.0)
    assert kinds(actions) == [(PRESS, ""), (RELEASE, "")]
    assert actions[1].at == pytest.approx(1.020), "the note ends when the window does"
    assert access.rejected[BOUNCE] == 0, "the swallowed edge was real, not bounce"


def test_tremor_blips_shorter_than_the_acceptance_delay_are_rejected_too_short() -> None:
    access = AccessFilter(AccessSettings(debounce=0.010, acceptance=0.150))
    blips = [(1.0, True), (1.04, False), (1.5, True), (1.62, False)]
    actions = run(access, blips, 3.0)
    assert kinds(actions) == [(REJECTED, TOO_SHORT), (REJECTED, TOO_SHORT)]
    assert [action.at for action in actions] == [1.04, 1.62]


def test_a_press_held_through_the_acceptance_delay_starts_its_note_then() -> None:
    access = AccessFilter(AccessSettings(debounce=0.010, acceptance=0.150))
    assert access.edge(True, 1.0) == [], "nothing sounds before the delay has passed"
    assert access.deadline == pytest.approx(1.15)
    assert access.tick(1.149) == []
    actions = access.tick(1.2)
    assert actions == [Action(PRESS, pytest.approx(1.15), seconds=pytest.approx(0.15))]
    assert kinds(access.edge(False, 1.4)) == [(RELEASE, "")]


def test_a_release_that_arrives_before_a_late_tick_still_counts_the_hold() -> None:
    access = AccessFilter(AccessSettings(debounce=0.010, acceptance=0.150))
    access.edge(True, 1.0)
    # The scheduler was late: the release edge comes first and applies the due acceptance.
    actions = access.edge(False, 1.3)
    assert kinds(actions) == [(PRESS, ""), (RELEASE, "")]
    assert actions[0].at == pytest.approx(1.15)


def test_lockout_rejects_a_press_too_soon_after_the_last_accepted_one() -> None:
    access = AccessFilter(AccessSettings(debounce=0.02, lockout=0.5))
    edges = [(1.0, True), (1.1, False), (1.3, True), (1.4, False), (1.6, True), (1.7, False)]
    actions = run(access, edges, 3.0)
    assert kinds(actions) == [
        (PRESS, ""), (RELEASE, ""), (REJECTED, LOCKOUT), (PRESS, ""), (RELEASE, "")
    ]
    assert actions[2].at == 1.3


def test_drop_outs_shorter_than_the_release_tolerance_do_not_end_the_press() -> None:
    access = AccessFilter(AccessSettings(debounce=0.005, release_tolerance=0.080))
    worn = [(1.0, True), (1.2, False), (1.25, True), (1.5, False), (1.52, True), (2.0, False)]
    actions = run(access, worn, 3.0)
    assert kinds(actions) == [(PRESS, ""), (RELEASE, "")]
    assert actions[1].at == 2.0, "the release is dated at its edge"
    assert actions[1].seconds == pytest.approx(1.0)


def test_a_drop_out_as_long_as_the_tolerance_ends_the_press() -> None:
    access = AccessFilter(AccessSettings(debounce=0.005, release_tolerance=0.080))
    actions = run(access, [(1.0, True), (1.2, False), (1.28, True), (1.5, False)], 3.0)
    assert kinds(actions) == [(PRESS, ""), (RELEASE, ""), (PRESS, ""), (RELEASE, "")]


def test_latch_toggles_the_note_on_each_accepted_press() -> None:
    access = AccessFilter(AccessSettings(mode=LATCH))
    edges = [(1.0, True), (1.1, False), (3.0, True), (3.1, False)]
    actions = run(access, edges, 5.0)
    assert kinds(actions) == [(PRESS, ""), (RELEASE, "")]
    assert [action.at for action in actions] == [1.0, 3.0]
    assert actions[1].seconds == pytest.approx(2.0)


def test_timed_notes_sound_for_the_set_time_and_a_new_press_restarts_them() -> None:
    access = AccessFilter(AccessSettings(mode=TIMED, timed=0.5))
    edges = [(1.0, True), (1.05, False), (2.0, True), (2.1, False), (2.3, True), (2.35, False)]
    actions = run(access, edges, 5.0)
    assert [(a.kind, a.at) for a in actions] == [
        (PRESS, 1.0), (RELEASE, 1.5), (PRESS, 2.0), (RELEASE, 2.3), (PRESS, 2.3), (RELEASE, 2.8),
    ]


def test_a_stuck_switch_is_released_reported_and_ignored_until_let_go() -> None:
    access = AccessFilter(AccessSettings(stuck=30.0, release_tolerance=0.1))
    actions = run(access, [(1.0, True)], 40.0)
    assert [(a.kind, a.reason, a.at) for a in actions] == [
        (PRESS, "", 1.0), (RELEASE, "", 31.0), (REJECTED, STUCK, 31.0)
    ]
    # Still leaned on: a drop-out within the release tolerance is not letting go.
    assert kinds(run(access, [(45.0, False), (45.05, True)], 50.0)) == []
    # Let go, then pressed again: it works again.
    later = run(access, [(60.0, False), (61.0, True), (61.2, False)], 70.0)
    assert kinds(later) == [(PRESS, ""), (RELEASE, "")]


def test_a_new_mode_while_held_ends_the_note_and_waits_for_the_release() -> None:
    access = AccessFilter(AccessSettings(mode=MOMENTARY))
    assert kinds(access.edge(True, 1.0)) == [(PRESS, "")]
    assert kinds(access.apply(AccessSettings(mode=LATCH), 1.5)) == [(RELEASE, "")]
    assert not access.sounding, "no note is left hanging"
    assert access.edge(False, 2.0) == []
    assert kinds(run(access, [(3.0, True), (3.1, False)], 4.0)) == [(PRESS, "")]


def test_new_numbers_with_the_same_mode_carry_the_press_on() -> None:
    access = AccessFilter(AccessSettings(acceptance=0.3))
    access.edge(True, 1.0)
    assert kinds(access.apply(AccessSettings(acceptance=0.1), 1.2)) == [(PRESS, "")]
    assert kinds(access.edge(False, 1.5)) == [(RELEASE, "")]


# --------------------------------------------------------------------------------------
# Properties on random edge streams


def reference(edges: list[Edge], s: AccessSettings) -> list[tuple[str, float, str]]:
    """What the documented rules (station/inputs/access.py) say should happen, computed from
    the whole stream at once: debounced level → holds → acceptance, lockout, stuck guard.
    Momentary mode; a stream ends released."""
    # 1. The debounced level: changes at first edges outside a window, and at the end of a
    #    window that swallowed the switch's last edge.
    changes: list[Edge] = []
    level = raw = False
    window_end = -math.inf
    swallowed = 0
    for at, active in [*edges, (math.inf, False)]:
        if swallowed and window_end <= at:
            if raw != level:
                level = raw
                changes.append((window_end, level))
            swallowed = 0
        raw = active
        if at < window_end:
            swallowed += 1
        elif active != level and at != math.inf:
            level = active
            window_end = at + s.debounce
            changes.append((at, active))
    # 2. Holds: active stretches, merged across drop-outs shorter than the tolerance.
    segments = [(changes[i][0], changes[i + 1][0]) for i in range(0, len(changes) - 1, 2)]
    holds: list[list[tuple[float, float]]] = []
    for segment in segments:
        if holds and segment[0] - holds[-1][-1][1] < s.release_tolerance:
            holds[-1].append(segment)
        else:
            holds.append([segment])

    def first_active(hold: list[tuple[float, float]], due: float) -> float | None:
        for rise, fall in hold:
            if rise <= due <= fall:
                return due
            if rise > due:
                return rise
        return None

    # 3. Decisions per hold.
    expected: list[tuple[str, float, str]] = []
    last_accepted = -math.inf
    for hold in holds:
        start, end = hold[0][0], hold[-1][1]
        if start - last_accepted < s.lockout:
            expected.append((REJECTED, start, LOCKOUT))
            continue
        accepted = start if s.acceptance <= 0 else first_active(hold, start + s.acceptance)
        if accepted is None:
            expected.append((REJECTED, end, TOO_SHORT))
            continue
        last_accepted = start
        expected.append((PRESS, accepted, ""))
        stuck = first_active(hold, start + s.stuck)
        if stuck is not None:
            expected += [(RELEASE, stuck, ""), (REJECTED, stuck, STUCK)]
        else:
            expected.append((RELEASE, end, ""))
    return expected


@st.composite
def edge_streams(draw: st.DrawFn) -> list[Edge]:
    """Alternating edges starting with a press and ending released, at random gaps: contact
    bounce (sub-millisecond), tremor and taps (milliseconds), holds (seconds)."""
    gaps = draw(st.lists(
        st.one_of(
            st.integers(50, 3_000),  # microseconds
            st.integers(3_000, 300_000),
            st.integers(300_000, 4_000_000),
        ),
        min_size=1, max_size=60,
    ))
    if len(gaps) % 2:
        gaps.append(draw(st.integers(50, 400_000)))
    edges = []
    at = 100_000_000
    for index, gap in enumerate(gaps):
        edges.append((at / 1e6, index % 2 == 0))
        at += gap
    return edges


@st.composite
def access_settings(draw: st.DrawFn, mode: str = MOMENTARY) -> AccessSettings:
    debounce = draw(st.sampled_from([0, 1_000, 5_000, 20_000, 50_000])) / 1e6
    acceptance = draw(st.sampled_from([0, 1, 2, 3])) * draw(st.integers(0, 200_000)) / 1e6
    if 0 < acceptance < debounce:
        acceptance = debounce
    return AccessSettings(
        debounce=debounce,
        acceptance=acceptance,
        lockout=draw(st.sampled_from([0, 0, 100_000, 700_000])) / 1e6,
        release_tolerance=draw(st.sampled_from([0, 0, 30_000, 150_000])) / 1e6,
        mode=mode,
        timed=draw(st.integers(50_000, 1_500_000)) / 1e6,
        stuck=draw(st.sampled_from([0.7, 1.0, 2.5, 30.0])),
    )


@settings(max_examples=400, deadline=None)
@given(edges=edge_streams(), access=access_settings())
def test_presses_are_accepted_exactly_when_they_satisfy_the_settings(
    edges: list[Edge], access: AccessSettings
) -> None:
    actions = run(AccessFilter(access), edges, edges[-1][0] + 100.0)
    decided = sorted(
        (action.kind, action.at, action.reason) for action in actions if action.reason != BOUNCE
    )
    expected = sorted(reference(edges, access))
    # Compare in microseconds: settings in seconds add float rounding to each deadline.
    assert [(k, round(t * 1e6), r) for k, t, r in decided] == [
        (k, round(t * 1e6), r) for k, t, r in expected
    ]


@settings(max_examples=300, deadline=None)
@given(edges=edge_streams(), access=st.sampled_from([LATCH, TIMED]).flatmap(
    lambda mode: access_settings(mode)))
def test_latch_and_timed_accept_and_reject_the_same_presses_as_momentary(
    edges: list[Edge], access: AccessSettings
) -> None:
    """The mode changes what an accepted press does, never which presses are accepted."""
    access_filter = AccessFilter(access)
    actions = run(access_filter, edges, edges[-1][0] + 100.0)
    expected = reference(edges, access)
    rejected = sorted((a.kind, round(a.at * 1e6), a.reason) for a in actions
                      if a.kind == REJECTED and a.reason != BOUNCE)
    assert rejected == sorted((k, round(t * 1e6), r) for k, t, r in expected if k == REJECTED)
    assert access_filter.accepted == sum(1 for kind, _, _ in expected if kind == PRESS)


@settings(max_examples=200, deadline=None)
@given(edges=edge_streams(), access=st.sampled_from([MOMENTARY, LATCH, TIMED]).flatmap(
    lambda mode: access_settings(mode)))
def test_decisions_depend_on_edge_times_only_not_on_when_the_scheduler_ran(
    edges: list[Edge], access: AccessSettings
) -> None:
    until = edges[-1][0] + 100.0
    punctual = run(AccessFilter(access), edges, until)
    never_woke = run(AccessFilter(access), edges, until, tick=False)
    assert punctual == never_woke


@settings(max_examples=300, deadline=None)
@given(edges=edge_streams(), access=st.sampled_from([MOMENTARY, LATCH, TIMED]).flatmap(
    lambda mode: access_settings(mode)))
def test_notes_alternate_and_none_outlives_its_rules(
    edges: list[Edge], access: AccessSettings
) -> None:
    access_filter = AccessFilter(access)
    actions = run(access_filter, edges, edges[-1][0] + 100.0)
    notes = [action for action in actions if action.kind in (PRESS, RELEASE)]
    assert [a.kind for a in notes] == [PRESS, RELEASE] * (len(notes) // 2) + [PRESS] * (
        len(notes) % 2
    ), "a note is never started twice or ended twice"
    for on, off in zip(notes[::2], notes[1::2], strict=False):
        assert off.at >= on.at
        if access.mode == TIMED:
            assert off.at - on.at <= access.timed + 1e-9
    if access.mode != LATCH:
        assert not access_filter.sounding, "no note hangs once the switch is released"
    bounces = sum(a.amount for a in actions if a.reason == BOUNCE)
    assert bounces == access_filter.rejected[BOUNCE]
    reports = [a.at for a in actions if a.reason == BOUNCE]
    assert all(b - a >= BOUNCE_REPORT_SECONDS - 1e-9 for a, b in itertools.pairwise(reports))
