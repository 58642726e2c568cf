"""A therapist's session notes: each save a new version, none overwritten, none lost.

A note starts as the "objective data" paragraph drafted from the numbers (`paragraph`); what
the therapist saves is kept as version 1, 2, 3... of the client's note on that session, with
who saved it and when. A save names the version it was edited from, so two people editing at
once cannot silently replace each other's words: the second is asked to look again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.dashboard.store.people import SessionNote
from station.errors import StationError

MAX_NOTE_CHARACTERS = 5000
# Line breaks and tabs are writing; every other control character is not (and a PDF or a
# spreadsheet would show it as garbage).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class NoteRefused(StationError, ValueError):
    """A note that cannot be saved as it is; the message says what to change."""


@dataclass(frozen=True)
class NoteVersion:
    version: int
    text: str
    author: str
    created: float
    """Unix seconds"""


def checked_note(text: str) -> str:
    """`text` as it is saved (line ends made ``\\n``, blanks at both ends trimmed), or
    NoteRefused saying what to fix."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise NoteRefused("The note is empty. Write the note (the drafted paragraph is a "
                          "start), then save it.")
    if len(text) > MAX_NOTE_CHARACTERS:
        raise NoteRefused(f"The note has {len(text):,} characters; at most "
                          f"{MAX_NOTE_CHARACTERS:,} fit. Shorten it by "
                          f"{len(text) - MAX_NOTE_CHARACTERS:,} and save again.")
    found = _CONTROL.search(text)
    if found:
        where = text[:found.start()].count("\n") + 1
        raise NoteRefused(f"The note holds an invisible control character (code "
                          f"{ord(found.group()):#04x}) on line {where}, probably pasted from "
                          "another program. Delete it (retype that spot), then save again.")
    return text


def note_versions(db: Session, session_id: str, client: str) -> list[NoteVersion]:
    """Every saved version of `client`'s note on `session_id`, the newest first."""
    rows = db.scalars(select(SessionNote)
                      .where(SessionNote.session_id == session_id, SessionNote.client == client)
                      .order_by(SessionNote.version.desc()))
    return [NoteVersion(row.version, row.text, row.author, row.created) for row in rows]


def save_note(
    db: Session, session_id: str, client: str, author: str, text: str, based_on: int,
    clock: Callable[[], float] = time.time,
) -> NoteVersion:
    """Save `text` as the next version of the note (in its own transaction) and return it.

    `based_on` is the version the therapist edited (0: the draft). NoteRefused if `text` is
    not a note (`checked_note`), or if someone saved another version meanwhile."""
    text = checked_note(text)
    with db.begin():
        newest = db.scalar(select(func.max(SessionNote.version))
                           .where(SessionNote.session_id == session_id,
                                  SessionNote.client == client)) or 0
        if newest != based_on:
            raise NoteRefused(_newer(newest, based_on))
        saved = NoteVersion(newest + 1, text, author, clock())
        db.add(SessionNote(session_id=session_id, client=client, author=author,
                           version=saved.version, text=text, created=saved.created))
        try:
            db.flush()
        except IntegrityError:  # another save took the same version number at that moment
            raise NoteRefused(_newer(newest + 1, based_on)) from None
    return saved


def _newer(newest: int, based_on: int) -> str:
    return (f"Someone saved version {newest} of this note while you were writing (you started "
            f"from {'the draft' if based_on == 0 else f'version {based_on}'}). Your text is "
            "still in the box: compare it with the current note below, then save again.")
