"""Retention: what is older than ``retention_days`` is deleted from the dashboard's database.

Events (by the station's time), sessions whose last event is that old (with who took part,
their sound sets, summaries and notes), notes and audit entries. Runs on a thread of its own,
once at start and then every hour, in transactions of at most `CHUNK` rows, so ingest's writer
never waits long. ``retention_days = 0`` keeps everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, func, select

from station.dashboard.store import Store
from station.dashboard.store.models import Event, TherapySession
from station.dashboard.store.people import AuditEntry, SessionNote

log = logging.getLogger(__name__)

CHUNK = 5000
EVERY_SECONDS = 3600.0


class Retention:
    """Deletes old data from `store` (`sweep` once, or `start` a thread that repeats it)."""

    def __init__(self, store: Store, days: float, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.days = days
        self.clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, int]:
        """Delete what is too old now; how many rows of each kind went."""
        if self.days <= 0:
            return {}
        cutoff = self.clock() - self.days * 86400
        deleted = {
            "events": self._chunked(Event, Event.id, Event.t_wall < cutoff),
            "notes": self._chunked(SessionNote, SessionNote.id, SessionNote.created < cutoff),
            "sessions": self._chunked(
                TherapySession, TherapySession.id,
                func.coalesce(TherapySession.last_t_wall, TherapySession.started_t_wall,
                              0.0) < cutoff),
            "audit entries": self._chunked(AuditEntry, AuditEntry.id, AuditEntry.at < cutoff),
        }
        if any(deleted.values()):
            log.info("retention (%g days) deleted %s", self.days,
                     ", ".join(f"{number} {kind}" for kind, number in deleted.items() if number))
        return deleted

    def _chunked(self, table: type, key: object, condition: object) -> int:
        total = 0
        while True:
            with self.store.transaction() as db, db.begin():
                ids = list(db.scalars(select(key).where(condition).limit(CHUNK)))  # type: ignore[call-overload]
                if not ids:
                    return total
                db.execute(delete(table).where(key.in_(ids)))  # type: ignore[attr-defined]
            total += len(ids)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sweep()
            except Exception:  # the database may be down; the next hour tries again
                log.exception("retention could not delete old data; trying again in an hour")
            self._stopping.wait(EVERY_SECONDS)

    def start(self) -> None:
        if self.days > 0:
            self._thread = threading.Thread(target=self._loop, name="dashboard-retention",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
