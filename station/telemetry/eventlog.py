"""The durable local event log: the engine appends, the telemetry agent reads.

The engine hands each event to `EventRecorder.record()` (a queue put, nothing more), and a
writer thread appends batches to SQLite in WAL mode with ``synchronous=FULL``: once a batch is
committed it survives a crash or a power cut. The telemetry agent reads the same file with
`EventReader` and keeps its own delivery cursor (see `DeliveryCursor`), so the two processes
never write the same database.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.contract.events import EventType

log = logging.getLogger(__name__)

EVENTS_FILE = "events.sqlite3"
CURSOR_FILE = "delivery.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    session TEXT NOT NULL,
    client TEXT NOT NULL,
    sound_set TEXT NOT NULL,
    input TEXT,
    reason TEXT,
    t_wall REAL NOT NULL,
    t_mono REAL NOT NULL,
    hold_ms REAL,
    detail TEXT
)
"""

# Summaries and gaps look events up by session.
SESSION_INDEX = "CREATE INDEX IF NOT EXISTS events_by_session ON events (session, seq)"

_CONTEXT = "context"
_FLUSH = "flush"
_STOP = "stop"


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


@dataclass(frozen=True)
class Event:
    """One recorded interaction or station event, as stored and as published."""

    seq: int
    id: str
    type: str
    session: str
    client: str
    sound_set: str
    input: str | None
    reason: str | None
    t_wall: float
    t_mono: float
    hold_ms: float | None
    detail: dict[str, Any] | None

    def as_message(
        self, station: str, site: str, gap_ms: float | None = None
    ) -> dict[str, Any]:
        """The event as published; `gap_ms` (presses) comes from the events before it."""
        message: dict[str, Any] = {
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "station": station,
            "site": site,
            "session": self.session,
            "client": self.client,
            "sound_set": self.sound_set,
            "t_wall": self.t_wall,
            "t_mono": self.t_mono,
        }
        for key in ("input", "reason", "hold_ms", "detail"):
            value = getattr(self, key)
            if value is not None:
                message[key] = value
        if gap_ms is not None:
            message["gap_ms"] = round(gap_ms, 3)
        if self.type == EventType.RELEASE and self.hold_ms is not None:
            # The press's own times, so a release alone tells the whole press.
            message["press_t_mono"] = self.t_mono - self.hold_ms / 1000.0
            message["press_t_wall"] = self.t_wall - self.hold_ms / 1000.0
        return message


class EventRecorder:
    """The engine's side: `record()` queues an event; a writer thread makes it durable."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / EVENTS_FILE
        self._connection = _connect(self.path)
        self._connection.execute(SCHEMA)
        self._connection.execute(SESSION_INDEX)
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._session = ""
        self._client = ""
        self._sound_set = ""
        self.failed: BaseException | None = None
        # Set while the disk (or the database) is full: events wait in memory, the music plays.
        self.full = threading.Event()
        # Told of every accepted press (input, t_mono) as it is written: the cue runner's
        # way to the presses, off the press path.
        self.press_listener: Callable[[str, float], None] | None = None
        self._writer = threading.Thread(target=self._write_loop, name="event-writer", daemon=True)
        self._writer.start()

    def record(
        self,
        kind: EventType,
        input_name: str | None = None,
        reason: str | None = None,
        t_mono: float | None = None,
        hold_ms: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Queue one event (non-blocking). `t_mono` is the edge's monotonic time, seconds."""
        self._queue.put(
            (
                kind,
                input_name,
                reason,
                time.monotonic() if t_mono is None else t_mono,
                time.time(),
                hold_ms,
                detail,
            )
        )

    def set_context(
        self, session: str | None = None, client: str | None = None, sound_set: str | None = None
    ) -> None:
        """Events queued after this call belong to this session, client and sound set; a part
        left out (None) stays as it was."""
        self._queue.put((_CONTEXT, session, client, sound_set))

    def start_session(self, client: str, sound_set: str, detail: dict[str, Any]) -> str:
        session = uuid.uuid4().hex[:12]
        self.set_context(session, client, sound_set)
        self.record(EventType.SESSION_START, detail=detail)
        return session

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is on disk; False after `timeout` seconds.

        For control commands, whose reply should mean "recorded"; never on the press path.
        """
        written = threading.Event()
        self._queue.put((_FLUSH, written))
        return written.wait(timeout)

    @property
    def healthy(self) -> bool:
        return self._writer.is_alive() and self.failed is None

    def close(self) -> None:
        """Write everything still queued, then stop the writer."""
        self._queue.put((_STOP,))
        self._writer.join(timeout=10)
        self._connection.close()

    def _write_loop(self) -> None:
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < 512:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if not self._write(batch):
                    return
        except BaseException as error:  # a dead writer must be visible to the watchdog
            self.failed = error
            log.exception("event log writer stopped; events are no longer recorded")

    def _write(self, batch: list[tuple[Any, ...]]) -> bool:
        rows = []
        keep_going = True
        flushed = []
        for item in batch:
            if item[0] == _FLUSH:
                flushed.append(item[1])
                continue
            if item[0] == _CONTEXT:
                _, session, client, sound_set = item
                self._session = self._session if session is None else session
                self._client = self._client if client is None else client
                self._sound_set = self._sound_set if sound_set is None else sound_set
                continue
            if item[0] == _STOP:
                keep_going = False
                continue
            kind, input_name, reason, t_mono, t_wall, hold_ms, detail = item
            if kind == EventType.PRESS and self.press_listener is not None:
                self.press_listener(input_name, t_mono)
            rows.append(
                (
                    uuid.uuid4().hex,
                    kind,
                    self._session,
                    self._client,
                    self._sound_set,
                    input_name,
                    reason,
                    t_wall,
                    t_mono,
                    hold_ms,
                    None if detail is None else json.dumps(detail, sort_keys=True),
                )
            )
        if rows:
            self._insert(rows, give_up=not keep_going)
        for waiter in flushed:
            waiter.set()
        return keep_going


    def _insert(self, rows: list[tuple[Any, ...]], give_up: bool) -> None:
        """Commit `rows`; while the disk is full keep them and retry every second.

        Stopping the engine (and the music) would not free any space; the events are kept in
        memory, the log says so once, and they are written as soon as space is freed. When
        the engine is stopping (`give_up`) it tries for 10 s at most.
        """
        attempts = 0
        while True:
            try:
                with self._connection:
                    self._connection.execute("BEGIN")
                    self._connection.executemany(
                        "INSERT INTO events (id, type, session, client, sound_set, input, reason,"
                        " t_wall, t_mono, hold_ms, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        rows,
                    )
            except sqlite3.OperationalError as error:
                if "full" not in str(error):
                    raise
                if not self.full.is_set():
                    log.error(
                        "the event log %s is full (%s): %d events wait in memory and the music "
                        "plays on; free disk space and they will be written", self.path, error,
                        len(rows),
                    )
                    self.full.set()
                attempts += 1
                if give_up and attempts >= 10:
                    log.error("stopping with a full disk: %d events were not recorded", len(rows))
                    return
                threading.Event().wait(1.0)
                continue
            if self.full.is_set():
                log.warning("the event log has space again; %d waiting events written", len(rows))
                self.full.clear()
            return


def _event(row: tuple[Any, ...]) -> Event:
    *columns, detail = row
    return Event(*columns, None if detail is None else json.loads(detail))  # type: ignore[call-arg]


class EventReader:
    """The agent's side: reads events after a sequence number, oldest first."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._connection = _connect(data_dir / EVENTS_FILE)
        # The agent may start before the engine has ever run.
        self._connection.execute(SCHEMA)
        self._connection.execute(SESSION_INDEX)

    def after(self, seq: int, limit: int = 200) -> list[Event]:
        rows = self._connection.execute(
            "SELECT seq, id, type, session, client, sound_set, input, reason, t_wall, t_mono,"
            " hold_ms, detail FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [_event(row) for row in rows]

    def between(self, first_seq: int, last_seq: int) -> Iterator[Event]:
        """The events from `first_seq` to `last_seq` (both included), oldest first."""
        seq = first_seq - 1
        while batch := self.after(seq, 1000):
            for event in batch:
                if event.seq > last_seq:
                    return
                yield event
            seq = batch[-1].seq

    def session_events(self, session: str, last_seq: int) -> list[Event]:
        """Every event of `session` up to `last_seq`, oldest first."""
        rows = self._connection.execute(
            "SELECT seq, id, type, session, client, sound_set, input, reason, t_wall, t_mono,"
            " hold_ms, detail FROM events WHERE session = ? AND seq <= ? ORDER BY seq",
            (session, last_seq),
        ).fetchall()
        return [_event(row) for row in rows]

    def backlog(self, after_seq: int) -> tuple[int, int]:
        """(events not yet delivered, highest recorded seq)."""
        row = self._connection.execute(
            "SELECT COUNT(*), MAX(seq) FROM events WHERE seq > ?", (after_seq,)
        ).fetchone()
        return int(row[0]), int(row[1] or after_seq)

    def purge(self, delivered_seq: int, recorded_before: float, limit: int = 500) -> int:
        """Delete up to `limit` delivered events recorded before `recorded_before` (Unix time).

        The agent deletes, since only it knows what was delivered; in small transactions, so
        the engine's writer never waits long for the write lock. Never touches an event that
        was not delivered. Returns how many were deleted.
        """
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            deleted = self._connection.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ?"
                " AND t_wall < ? ORDER BY seq LIMIT ?)",
                (delivered_seq, recorded_before, limit),
            ).rowcount
        return int(deleted)

    def latest_session(self) -> tuple[str, int] | None:
        """(session id, seq of its start event) of the newest session, if any."""
        row = self._connection.execute(
            "SELECT session, seq FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1",
            (EventType.SESSION_START,),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def latest_audio_status(self, up_to_seq: int) -> Event | None:
        """The newest `station_status` event up to `up_to_seq` that tells how the audio is:
        an audio change or an engine start (a clean stop tells nothing)."""
        row = self._connection.execute(
            "SELECT seq, id, type, session, client, sound_set, input, reason, t_wall, t_mono,"
            " hold_ms, detail FROM events WHERE type = ? AND seq <= ?"
            " AND json_extract(detail, '$.engine') IS NOT 'stopped' ORDER BY seq DESC LIMIT 1",
            (EventType.STATION_STATUS, up_to_seq),
        ).fetchone()
        return None if row is None else _event(row)

    def previous_press(self, session: str, before_seq: int) -> float | None:
        """The monotonic time of the last accepted press in `session` before `before_seq`."""
        row = self._connection.execute(
            "SELECT t_mono FROM events WHERE session = ? AND type = ? AND seq < ?"
            " ORDER BY seq DESC LIMIT 1",
            (session, EventType.PRESS, before_seq),
        ).fetchone()
        return None if row is None else float(row[0])

    def press_counts(self, session: str, up_to_seq: int) -> dict[str, int]:
        """Accepted presses per input in `session`, counting events up to `up_to_seq`."""
        rows = self._connection.execute(
            "SELECT input, COUNT(*) FROM events WHERE session = ? AND type = ? AND seq <= ?"
            " GROUP BY input",
            (session, EventType.PRESS, up_to_seq),
        ).fetchall()
        return {name: count for name, count in rows}

    def close(self) -> None:
        self._connection.close()


class DeliveryCursor:
    """The highest event sequence number the broker has acknowledged, kept durably."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._connection = _connect(data_dir / CURSOR_FILE)
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER)"
        )
        row = self._connection.execute("SELECT seq FROM cursor WHERE id = 0").fetchone()
        self.seq: int = 0 if row is None else int(row[0])

    def advance(self, seq: int) -> None:
        if seq <= self.seq:
            return
        self._connection.execute(
            "INSERT INTO cursor (id, seq) VALUES (0, ?) ON CONFLICT(id) DO UPDATE SET seq = ?",
            (seq, seq),
        )
        self.seq = seq

    def close(self) -> None:
        self._connection.close()


def iterate_all(data_dir: Path) -> Iterator[Event]:
    """Every recorded event, oldest first (for exports and tests)."""
    reader = EventReader(data_dir)
    try:
        seq = 0
        while batch := reader.after(seq, 1000):
            yield from batch
            seq = batch[-1].seq
    finally:
        reader.close()
