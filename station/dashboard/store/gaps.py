"""Which of a station's seqs are missing: pure arithmetic on inclusive ranges.

A station numbers its events 1, 2, 3, ... (``seq``). The store keeps, per station, the highest
seq it has and the ranges below it that it has not; `arrive` updates both for one new event,
whatever order events come in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SeqRange:
    """Seqs ``first`` to ``last``, both included."""

    first: int
    last: int


@dataclass(frozen=True)
class Arrival:
    """What one new event's seq did to a station's missing ranges."""

    highest: int
    missing: tuple[SeqRange, ...]
    known: bool
    """The seq was neither missing nor above the highest: the station numbered two different
    events alike (its log was reset, or two stations share an id)."""


def arrive(highest: int, missing: tuple[SeqRange, ...], seq: int) -> Arrival:
    """Seq `seq` arrived at a station with `highest` (0 for none yet) and `missing` ranges
    (sorted, disjoint, all below `highest`)."""
    if seq > highest:
        opened = (SeqRange(highest + 1, seq - 1),) if seq > highest + 1 else ()
        return Arrival(seq, missing + opened, known=False)
    for index, gap in enumerate(missing):
        if gap.first <= seq <= gap.last:
            pieces = tuple(
                piece for piece in (SeqRange(gap.first, seq - 1), SeqRange(seq + 1, gap.last))
                if piece.first <= piece.last
            )
            return Arrival(highest, missing[:index] + pieces + missing[index + 1:], known=False)
    return Arrival(highest, missing, known=True)
