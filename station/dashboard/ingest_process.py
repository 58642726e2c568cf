"""Ingest's broker side in a process of its own; reading and writing stay in the dashboard's.

Ingest is Python work on every message: paho reads and decodes each packet, and each is
checked against the contract and written. A clinic's stations send thousands a second. In
one process all of it shared one interpreter lock (one core at most) with the pages and
live streams: ingest fell behind at about 4,000 events a second, and a press waited behind
the backlog for seconds before the rooms page showed it.

So the child process holds the broker connection (`Ingest`: paho, the queue, the
acknowledgements) and sends each batch of arrivals, as they came, over a pipe. The parent's
thread reads and writes it (`BatchWriter`: the contract checks, one transaction, the live
pages told), answers, and only then does the child acknowledge the batch to the broker: a
message never committed comes again. While the parent writes one batch, the child receives
the next. Twice a second the child reports how ingest is doing (`IngestStatus`, for the
health endpoint and the pages' banner).

The child ignores SIGINT and SIGTERM (a terminal's Ctrl-C and systemd signal the whole
group): only its parent stops it, after the web server, so that what has arrived is stored
and acknowledged (an event, not a word on the pipe, whose answers only ingest's writer thread
reads). If the parent dies, the child stops too.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from station.dashboard.ingest import (
    Arrival,
    BatchWriter,
    Ingest,
    IngestSettings,
    IngestStatus,
    Message,
    message,
)
from station.dashboard.store import StationKey, Store

log = logging.getLogger(__name__)

STATUS_SECONDS = 0.5
"""How often the child reports how ingest is doing."""

_NOT_STARTED = IngestStatus(connected=False, since=None, problem="not connected yet",
                            waiting=0, lag_s=None, database_problem="")


class IngestProcess:
    """`Ingest` with its broker side in a child process and its writes in this one; to the
    dashboard the same as `Ingest`: `start`, `stop`, `status`, `writing`, and `on_commit`
    called (on this process's pipe thread) with the stations of each committed batch."""

    def __init__(self, store: Store, settings: IngestSettings,
                 on_commit: Callable[[set[StationKey]], None] | None = None) -> None:
        self.settings = settings
        self._writer = BatchWriter(store, settings.topic_root, on_commit=on_commit)
        self._status = _NOT_STARTED
        self._stopping = threading.Event()
        self._committed = threading.Condition()
        self._process: Any = None
        self._stop_child: Any = None
        self._connection: Connection | None = None
        self._pipe_thread: threading.Thread | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # this process has threads: no fork
        ours, theirs = context.Pipe()
        self._stop_child = context.Event()
        root = logging.getLogger()
        formatter = root.handlers[0].formatter if root.handlers else None
        logging_setup = (root.level, formatter._fmt if formatter else None,
                         formatter.datefmt if formatter else None)
        process = context.Process(
            target=_serve, name="dashboard-ingest", daemon=True,
            args=(self.settings, theirs, self._stop_child, logging_setup))
        process.start()
        theirs.close()
        self._connection = ours
        self._pipe_thread = threading.Thread(target=self._serve_child, name="ingest-writes",
                                             daemon=True)
        self._pipe_thread.start()
        # Last: until then `writing` says yes. Set first, the watchdog could find the process
        # started and its pipe thread not yet, and stop the dashboard.
        self._process = process

    def _serve_child(self) -> None:
        """Write what the child sends, answer it, and keep its status."""
        assert self._connection is not None
        while True:
            try:
                kind, body = self._connection.recv()
            except (EOFError, OSError):
                break
            if kind == "status":
                self._status = body
                continue
            answer = self._write(body)
            try:
                self._connection.send(answer)
            except OSError:
                break
            if answer[0] == "written":
                with self._committed:
                    self._committed.notify_all()
        if not self._stopping.is_set():
            log.error("the ingest process ended (exit code %s)",
                      self._process.exitcode if self._process is not None else None)

    def _write(self, batch: list[Message]) -> tuple[str, str]:
        try:
            self._writer.write_messages(batch)
            return "written", ""
        except (OperationalError, InterfaceError) as error:
            return "unreachable", str(error.orig or error)
        except Exception as error:  # logged here; the child keeps the batch unacknowledged
            log.exception("ingest could not store a batch of %d messages", len(batch))
            return "failed", f"{type(error).__name__}: {error}"

    def stop(self, timeout: float = 10.0) -> None:
        """Let the child store and acknowledge what has arrived, and wait for it to end."""
        if self._stopping.is_set() or self._process is None:
            self._stopping.set()
            return
        self._stopping.set()
        assert self._connection is not None
        self._stop_child.set()
        self._process.join(timeout)
        if self._process.is_alive():
            log.error("the ingest process did not stop within %.0f s; ending it", timeout)
            self._process.terminate()
            self._process.join(5)
        if self._pipe_thread is not None:
            self._pipe_thread.join(5)
        self._connection.close()

    @property
    def writing(self) -> bool:
        """The child lives and this side serves it (or ingest was stopped on purpose)."""
        return (self._process is None or self._stopping.is_set()
                or (self._process.is_alive() and self._pipe_thread is not None
                    and self._pipe_thread.is_alive()))

    def status(self) -> IngestStatus:
        if not self.writing:
            return IngestStatus(connected=False, since=self._status.since,
                                problem="the dashboard's receiving part stopped and is "
                                "being restarted",
                                waiting=0, lag_s=None, database_problem="")
        return self._status

    def wait_for(self, condition: Callable[[], Any], timeout: float) -> bool:
        """Wait until `condition()` is true, asking again after each committed batch."""
        with self._committed:
            return self._committed.wait_for(condition, timeout)


class _WriteOverPipe:
    """The child's `write`: each batch goes to the parent, which writes it and answers.

    Only ingest's writer thread calls it, one batch at a time; status reports share the pipe,
    hence the lock."""

    def __init__(self, connection: Connection, sending: threading.Lock) -> None:
        self.connection = connection
        self.sending = sending

    def __call__(self, batch: Sequence[Arrival]) -> None:
        with self.sending:
            self.connection.send(("write", [message(arrival) for arrival in batch]))
        try:
            answer, problem = self.connection.recv()
        except EOFError:
            raise OperationalError("ingest", None, ConnectionError(
                "the dashboard's web process has gone")) from None
        if answer == "unreachable":
            raise OperationalError("ingest", None, ConnectionError(problem))
        if answer == "failed":
            raise RuntimeError(problem)


def _serve(settings: IngestSettings, connection: Connection, stopping: Any,
           logging_setup: tuple[int, str | None, str | None]) -> None:
    """The child: ingest until the parent says stop or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    level, fmt, datefmt = logging_setup
    logging.basicConfig(level=level, format=fmt or logging.BASIC_FORMAT, datefmt=datefmt,
                        force=True)
    sending = threading.Lock()
    ingest = Ingest(None, settings, write=_WriteOverPipe(connection, sending))
    ingest.start()
    parent = os.getppid()
    try:
        while not stopping.wait(STATUS_SECONDS):
            if not ingest.writing:
                log.error("ingest's writer thread died; the ingest process ends")
                break
            if os.getppid() != parent:
                break  # the dashboard's web process has gone
            with sending:
                connection.send(("status", ingest.status()))
    except OSError:
        pass  # the pipe closed: the parent has gone
    finally:
        ingest.stop()
        connection.close()
