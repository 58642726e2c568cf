"""The access filter: decides, per input, which edges are intended presses.

The filter is a plain state machine that takes explicit monotonic timestamps (seconds, taken at
the edge) and never reads a clock or starts a thread. `AccessFilter.edge` handles one edge;
decisions that need time to pass (acceptance delay, release tolerance, timed notes, the
stuck-switch guard, the end of a debounce window) are due at `AccessFilter.deadline`, and
`AccessFilter.tick` applies what is due. The station's one scheduler thread calls `tick`;
tests call it with the times they choose. An edge applies every decision due before it first,
so the outcome depends only on the edge timestamps, never on how late the scheduler woke.

What the filter does, in order:

1. **Debounce on the first edge.** An edge acts at once and opens a window of
   ``debounce`` seconds; edges inside the window are contact bounce and are swallowed. When
   the window ends with the switch in the other state (it swallowed a real edge), the filter
   follows it at the window's end. This gives the *debounced level*.
2. **Holds.** A hold starts when the debounced level goes active. A drop-out shorter than
   ``release_tolerance`` does not end it (worn switches); a hold ends at the edge that
   starts a drop-out that lasts the whole tolerance.
3. **Acceptance.** A hold is accepted at the first moment it has lasted ``acceptance``
   seconds while the level is active (held through a tolerated drop-out: accepted when the
   switch comes back). A hold that ends sooner is rejected ``too_short``; a hold that starts
   less than ``lockout`` after the start of the last accepted one is rejected ``lockout``.
4. **Mode.** *momentary*: the note sounds from acceptance to the end of the hold. *latch*:
   each accepted hold toggles the note. *timed*: each accepted hold sounds for ``timed``
   seconds (a new accepted hold restarts the note).
5. **Stuck-switch guard.** A hold still going ``stuck`` seconds after it started is released,
   rejected ``stuck``, and that input is ignored until the hold ends.

At equal times the order is: acceptance, stuck guard, timed end, release tolerance, the end of
a debounce window, bounce report; then the edge itself.

Bounces are data too, but a chattering switch must not flood the event log: every swallowed
edge that the switch did not stay in is counted, and the counts are reported as one ``bounce``
rejection carrying the number of edges, at most once per `BOUNCE_REPORT_SECONDS` per input.

The settings, `AccessSettings` (seconds), have their defaults and their layering (station file,
client profile) in `station.config.access`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from station.config.access import AccessMode, AccessSettings
from station.contract.events import EventType

MOMENTARY: AccessMode = "momentary"
LATCH: AccessMode = "latch"
TIMED: AccessMode = "timed"

# Rejection reasons, as recorded in the event log.
BOUNCE = "bounce"
TOO_SHORT = "too_short"
LOCKOUT = "lockout"
STUCK = "stuck"
REASONS = (BOUNCE, TOO_SHORT, LOCKOUT, STUCK)

BOUNCE_REPORT_SECONDS = 1.0
NEVER = math.inf

# Hold states.
_IDLE = 0  # no hold
_PENDING = 1  # held, waiting for the acceptance delay
_ACCEPTED = 2  # held, accepted
_IGNORING = 3  # held, rejected (lockout or stuck) or dropped by a mode change: wait for its end


class Action(NamedTuple):
    """One thing the music and the event log must hear about.

    `at` is the monotonic time (seconds) of the edge or deadline that decided it. For a press,
    `seconds` is how long the switch had been held when it was accepted; for a release, how
    long the note sounded. For a rejection, `amount` is how many presses (or bounce edges) it
    stands for.
    """

    kind: str
    at: float
    reason: str = ""
    seconds: float = 0.0
    amount: int = 1


class AccessFilter:
    """The state of one input: what the client's switch is doing, as the music hears it."""

    __slots__ = (
        "_bounce_report_due",
        "_dropout_at",
        "_hold",
        "_hold_start",
        "_last_accepted_start",
        "_last_bounce_report",
        "_note_on_at",
        "_swallowed",
        "_unreported_bounces",
        "_window_end",
        "accepted",
        "deadline",
        "level",
        "raw",
        "rejected",
        "settings",
        "sounding",
    )

    def __init__(self, settings: AccessSettings) -> None:
        self.settings = settings
        self.raw = False  # the last edge seen, swallowed or not
        self.level = False  # the debounced level
        self.sounding = False  # this input's note is on
        self.deadline = NEVER  # when `tick` next has something to decide
        self.accepted = 0  # accepted presses, ever
        self.rejected = dict.fromkeys(REASONS, 0)  # rejected presses (bounce: edges) by reason
        self._window_end = -NEVER
        self._swallowed = 0  # edges swallowed by the current debounce window
        self._hold = _IDLE
        self._hold_start = 0.0
        self._dropout_at = NEVER  # when a drop-out of the current hold began; NEVER: none
        self._note_on_at = 0.0
        self._last_accepted_start = -NEVER
        self._unreported_bounces = 0
        self._last_bounce_report = -NEVER
        self._bounce_report_due = NEVER

    # -- the press path --------------------------------------------------------------------
    def edge(self, active: bool, at: float) -> list[Action]:
        """Decide on an edge to `active` at monotonic time `at` (seconds)."""
        actions: list[Action] = []
        if at >= self.deadline:
            self._advance(at, actions)
        self.raw = active
        if at < self._window_end:
            self._swallowed += 1
            if self._window_end < self.deadline:
                self.deadline = self._window_end
            return actions
        if active != self.level:
            self.level = active
            self._window_end = at + self.settings.debounce
            if active:
                self._rise(at, actions)
            else:
                self._fall(at, actions)
            self.deadline = self._next()[0]
        return actions

    def tick(self, now: float) -> list[Action]:
        """Apply every decision due at or before `now` (seconds)."""
        actions: list[Action] = []
        if now >= self.deadline:
            self._advance(now, actions)
        return actions

    def apply(self, settings: AccessSettings, now: float) -> list[Action]:
        """Change settings (a new client profile) at `now` without leaving a note hanging.

        With the same mode the press in progress carries on under the new numbers. A new mode
        ends a sounding note now, and a switch still held is ignored until it is let go.
        """
        actions = self.tick(now)
        if settings.mode != self.settings.mode:
            if self.sounding:
                self._note_off(now, actions)
            if self._hold in (_PENDING, _ACCEPTED):
                self._hold = _IGNORING
        self.settings = settings
        self.deadline = self._next()[0]
        if now >= self.deadline:
            # A shorter delay may already have passed.
            self._advance(now, actions)
        return actions

    @property
    def holding(self) -> bool:
        """True while a hold is in progress (accepted, waiting, or ignored)."""
        return self._hold != _IDLE

    # -- decisions -------------------------------------------------------------------------
    def _rise(self, at: float, actions: list[Action]) -> None:
        if self._dropout_at != NEVER:
            # Back within the release tolerance: the same hold goes on.
            self._dropout_at = NEVER
            if self._hold == _PENDING and at >= self._hold_start + self.settings.acceptance:
                self._accept(at, actions)
            if self._hold in (_PENDING, _ACCEPTED) and at >= self._hold_start + self.settings.stuck:
                self._stuck(at, actions)
            return
        self._hold_start = at
        if at - self._last_accepted_start < self.settings.lockout:
            self._hold = _IGNORING
            self._reject(LOCKOUT, at, actions)
        elif self.settings.acceptance <= 0.0:
            self._accept(at, actions)
        else:
            self._hold = _PENDING

    def _fall(self, at: float, actions: list[Action]) -> None:
        if self._hold == _IDLE:
            return
        if self.settings.release_tolerance > 0.0:
            self._dropout_at = at
        else:
            self._end_hold(at, actions)

    def _end_hold(self, at: float, actions: list[Action]) -> None:
        if self._hold == _PENDING:
            self._reject(TOO_SHORT, at, actions)
        elif self._hold == _ACCEPTED and self.sounding and self.settings.mode == MOMENTARY:
            self._note_off(at, actions)
        self._hold = _IDLE
        self._dropout_at = NEVER

    def _accept(self, at: float, actions: list[Action]) -> None:
        self._hold = _ACCEPTED
        self._last_accepted_start = self._hold_start
        self.accepted += 1
        mode = self.settings.mode
        if self.sounding:
            # latch: this press turns the note off; timed: it restarts the note.
            self._note_off(at, actions)
            if mode == LATCH:
                return
        self.sounding = True
        self._note_on_at = at
        actions.append(Action(EventType.PRESS, at, seconds=at - self._hold_start))

    def _note_off(self, at: float, actions: list[Action]) -> None:
        self.sounding = False
        actions.append(Action(EventType.RELEASE, at, seconds=at - self._note_on_at))

    def _stuck(self, at: float, actions: list[Action]) -> None:
        if self.sounding:
            self._note_off(at, actions)
        self._hold = _IGNORING
        self._reject(STUCK, at, actions)

    def _reject(self, reason: str, at: float, actions: list[Action], amount: int = 1) -> None:
        self.rejected[reason] += amount
        actions.append(Action(EventType.REJECTED, at, reason, amount=amount))

    def _close_window(self, at: float, actions: list[Action]) -> None:
        follow = self.raw != self.level
        # The one swallowed edge the switch stayed in was real, not bounce.
        bounces = self._swallowed - (1 if follow else 0)
        self._swallowed = 0
        if bounces > 0:
            if self._unreported_bounces == 0:
                self._bounce_report_due = max(
                    at, self._last_bounce_report + BOUNCE_REPORT_SECONDS
                )
            self._unreported_bounces += bounces
        if follow:
            # The switch's last edge was swallowed; follow it now. This opens no new window:
            # the edge it stands for is already a window old.
            self.level = self.raw
            if self.raw:
                self._rise(at, actions)
            else:
                self._fall(at, actions)

    def _report_bounces(self, at: float, actions: list[Action]) -> None:
        self._reject(BOUNCE, at, actions, self._unreported_bounces)
        self._unreported_bounces = 0
        self._last_bounce_report = at
        self._bounce_report_due = NEVER

    # -- deadlines -------------------------------------------------------------------------
    def _next(self) -> tuple[float, int]:
        """(time, which) of the next deferred decision, earliest first, ties in the order of
        the module docstring; (NEVER, -1) when nothing is due."""
        best = NEVER
        which = -1
        settings = self.settings
        hold = self._hold
        in_dropout = self._dropout_at != NEVER
        if hold == _PENDING and not in_dropout:
            best, which = self._hold_start + settings.acceptance, 0
        if hold in (_PENDING, _ACCEPTED) and not in_dropout:
            due = self._hold_start + settings.stuck
            if due < best:
                best, which = due, 1
        if self.sounding and settings.mode == TIMED:
            due = self._note_on_at + settings.timed
            if due < best:
                best, which = due, 2
        if in_dropout:
            due = self._dropout_at + settings.release_tolerance
            if due < best:
                best, which = due, 3
        if self._swallowed and self._window_end < best:
            best, which = self._window_end, 4
        if self._bounce_report_due < best:
            best, which = self._bounce_report_due, 5
        return best, which

    def _advance(self, now: float, actions: list[Action]) -> None:
        while True:
            at, which = self._next()
            if at > now:
                self.deadline = at
                return
            if which == 0:
                self._accept(at, actions)
            elif which == 1:
                self._stuck(at, actions)
            elif which == 2:
                self._note_off(at, actions)
            elif which == 3:
                dropout_at = self._dropout_at
                self._end_hold(dropout_at, actions)
            elif which == 4:
                self._close_window(at, actions)
            else:
                self._report_bounces(at, actions)
