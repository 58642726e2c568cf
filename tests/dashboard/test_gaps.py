"""The missing-seq arithmetic, against the obvious model: all seqs below the highest that
have not arrived."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from station.dashboard.store.gaps import SeqRange, arrive


def _ranges(numbers: set[int]) -> tuple[SeqRange, ...]:
    found: list[SeqRange] = []
    for number in sorted(numbers):
        if found and found[-1].last == number - 1:
            found[-1] = SeqRange(found[-1].first, number)
        else:
            found.append(SeqRange(number, number))
    return tuple(found)


def test_a_first_event_at_seq_5_leaves_1_to_4_missing() -> None:
    assert arrive(0, (), 5).missing == (SeqRange(1, 4),)


def test_a_filled_seq_splits_its_gap() -> None:
    arrival = arrive(9, (SeqRange(3, 7),), 5)
    assert arrival.missing == (SeqRange(3, 4), SeqRange(6, 7)) and arrival.highest == 9


@given(st.lists(st.integers(min_value=1, max_value=60), max_size=80))
def test_missing_ranges_are_what_has_not_arrived(seqs: list[int]) -> None:
    highest, missing, seen = 0, (), set()
    for seq in seqs:
        arrival = arrive(highest, missing, seq)
        assert arrival.known == (seq in seen)
        highest, missing = arrival.highest, arrival.missing
        seen.add(seq)
        assert highest == max(seen)
        assert missing == _ranges(set(range(1, highest)) - seen)
