"""Retention on both backends: what is older than ``retention_days`` goes, the rest stays."""

from __future__ import annotations

from sqlalchemy import func, select

from station.dashboard.accounts import Accounts
from station.dashboard.retention import Retention
from station.dashboard.store import EventRecord, StationKey, Store
from station.dashboard.store.models import SessionParticipant, TherapySession
from station.dashboard.store.people import AuditEntry, SessionNote
from tests.dashboard.helpers import event

ROOM = StationKey("demo-site", "room-1")
DAY = 86400.0
NOW = 1764075600.0 + 400 * DAY


def test_old_events_sessions_notes_and_audit_entries_are_deleted(store: Store) -> None:
    old = [event(1, "session_start", session="old"), event(2, session="old")]
    new = [event(3, "session_start", session="new", t_wall=NOW - DAY)]
    store.write([EventRecord(ROOM, message, 1.0) for message in (*old, *new)])
    with store.transaction() as db, db.begin():
        db.add(SessionNote(session_id="old", client="C-7F3K", author="anna", version=1,
                           text="calm", created=NOW - 390 * DAY))
        db.add(SessionNote(session_id="new", client="C-7F3K", author="anna", version=1,
                           text="keen", created=NOW - DAY))
    accounts = Accounts(store, b"k" * 32, clock=lambda: NOW - 366 * DAY)
    accounts.audit("anna", "login")
    Accounts(store, b"k" * 32, clock=lambda: NOW).audit("anna", "login")

    deleted = Retention(store, 365, clock=lambda: NOW).sweep()

    assert deleted == {"events": 2, "notes": 1, "sessions": 1, "audit entries": 1}
    assert [e["session"] for e in store.events()] == ["new"]
    with store.transaction() as db:
        assert list(db.scalars(select(TherapySession.id))) == ["new"]
        assert list(db.scalars(select(SessionParticipant.session_id))) == ["new"]
        assert list(db.scalars(select(SessionNote.text))) == ["keen"]
        assert db.scalar(select(func.count()).select_from(AuditEntry)) == 1
    assert Retention(store, 0, clock=lambda: NOW * 2).sweep() == {}
