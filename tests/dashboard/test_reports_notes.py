"""Session notes on both backends: versions in order, who and when, none overwritten, a save
from an outdated version refused."""

from __future__ import annotations

import pytest

from station.dashboard.reports.notes import NoteRefused, checked_note, note_versions, save_note
from station.dashboard.store import Store
from tests.dashboard.report_events import PART, SessionScript, write


def test_each_save_is_a_new_version_and_an_outdated_one_is_refused(store: Store) -> None:
    write(store, SessionScript().start().at(60.0).end().events)
    times = iter([1000.0, 2000.0, 3000.0])
    with store.transaction() as db:
        first = save_note(db, PART.session_id, "C-7F3K", "anna", " One.\r\nTwo. ", 0,
                          clock=lambda: next(times))
    with store.transaction() as db:
        second = save_note(db, PART.session_id, "C-7F3K", "bea", "Three.", 1,
                           clock=lambda: next(times))
    assert (first.version, first.text, second.version, second.author) == (
        1, "One.\nTwo.", 2, "bea")
    with store.transaction() as db, pytest.raises(NoteRefused, match=(
            "Someone saved version 2 of this note while you were writing \\(you started from "
            "version 1\\)")):
        save_note(db, PART.session_id, "C-7F3K", "anna", "Late.", 1)
    with store.transaction() as db:
        versions = note_versions(db, PART.session_id, "C-7F3K")
    assert [(v.version, v.author, v.text, v.created) for v in versions] == [
        (2, "bea", "Three.", 2000.0), (1, "anna", "One.\nTwo.", 1000.0)]


def test_a_tab_and_line_breaks_are_writing_other_control_characters_are_not() -> None:
    assert checked_note("a\tb\n\nc") == "a\tb\n\nc"
    with pytest.raises(NoteRefused, match="code 0x1b\\) on line 1"):
        checked_note("colour \x1b[31mred")
