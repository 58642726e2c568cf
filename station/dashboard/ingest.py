"""Ingest: every station's messages from the broker into the store, each event once.

The dashboard keeps a persistent session with the broker (a fixed client id; MQTT 5 with
``clean_start`` false and a session expiry, or 3.1.1 with ``clean_session`` false) and
subscribes at QoS 1 to every station under the topic root, so the broker queues what arrives
while the dashboard is away. Messages are acknowledged to the broker only once they are
committed: one the dashboard never stored (it crashed, the database was down) comes again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import InterfaceError, OperationalError

from station.dashboard.inbound import read_message, subscriptions
from station.dashboard.store import (
    BatchResult,
    IngestReason,
    Record,
    Refusal,
    SeqGap,
    StationKey,
    Store,
)
from station.errors import ConfigError

log = logging.getLogger(__name__)


GATHER_BELOW = 50
"""A batch smaller than this waits `IngestSettings.gather_s` for more."""


@dataclass(frozen=True)
class IngestSettings:
    """Where ingest finds the broker and how it keeps its session."""

    host: str = "127.0.0.1"
    port: int = 1883
    topic_root: str = "sensory/v1"
    client_id: str = "sensory-dashboard"
    """Fixed: the broker keeps the session (and queues messages) under this id."""
    username: str = ""
    password: str = ""
    protocol: str = "5"
    """``5`` or ``3.1.1`` (the embedded development broker speaks only 3.1.1)."""
    session_expiry_s: int = 7 * 24 * 3600
    """MQTT 5: how long the broker keeps the session while the dashboard is away (seconds,
    default a week). 3.1.1 sessions last as long as the broker's own setting says."""
    batch_max: int = 2000
    """Most messages written in one transaction. A batch is what arrived while the last one
    was written, so it grows only when ingest is busy, where fewer, larger transactions
    keep up (each has a commit and an update per station and session it touches)."""
    gather_s: float = 0.02
    """How long the writer waits after a batch's first message for more (seconds)."""
    tls: bool = False
    ca_file: str | None = None
    """None: the system's CAs."""
    cert_file: str | None = None
    key_file: str | None = None

    def prepare(self, client: mqtt.Client) -> None:
        """The login, TLS and reconnect back-off of every dashboard connection to the broker."""
        if self.username:
            client.username_pw_set(self.username, self.password or None)
        if self.tls:
            client.tls_set(ca_certs=self.ca_file, certfile=self.cert_file, keyfile=self.key_file)
        client.reconnect_delay_set(min_delay=1, max_delay=30)


@dataclass(frozen=True)
class IngestStatus:
    """How ingest is doing, for the health endpoint and the pages' banner."""

    connected: bool
    since: float | None
    """When it last connected or lost the broker (the dashboard's clock); None before either."""
    problem: str
    """Why it is not connected, in words ("" when it is)."""
    waiting: int
    """Messages received and not yet written."""
    lag_s: float | None
    """Seconds from the arrival of the last written batch's oldest message to its commit."""
    database_problem: str
    """Why the last write failed ("" when it did not)."""


@dataclass(frozen=True)
class Arrival:
    """A message as it came from the broker, not read yet."""

    topic: str
    payload: bytes
    retained: bool
    mid: int
    qos: int
    received: float
    connection: int


Message = tuple[str, bytes, float, bool]
"""An arrival's topic, payload, time received and retain flag: all a `BatchWriter` reads (a
tuple, which crosses a pipe quicker than an `Arrival`)."""


def message(arrival: Arrival) -> Message:
    return (arrival.topic, arrival.payload, arrival.received, arrival.retained)


class BatchWriter:
    """Reads a batch of arrivals against the contract and writes it in one transaction.

    `write` raises OperationalError or InterfaceError while the database is out of reach
    (the caller retries); a batch the database refuses otherwise is stored one message at
    a time, the refused ones counted as unstorable. Refusals are logged the first, 2nd, 4th,
    8th... time for each reason."""

    def __init__(self, store: Store, topic_root: str,
                 clock: Callable[[], float] = time.time,
                 on_commit: Callable[[set[StationKey]], None] | None = None) -> None:
        self.store = store
        self.topic_root = topic_root
        self.clock = clock
        self.on_commit = on_commit
        """Called after each committed batch with the stations it touched; it must not
        block (the rooms page's hub only wakes its listeners)."""
        self._logged: Counter[IngestReason] = Counter()

    def write(self, batch: Sequence[Arrival]) -> None:
        self.write_messages([message(arrival) for arrival in batch])

    def write_messages(self, batch: Sequence[Message]) -> None:
        """`write` of what `message` keeps of each arrival."""
        records: list[Record] = []
        for topic, payload, received, retained in batch:
            record = read_message(topic, payload, self.topic_root, received, retained)
            if record is not None:
                records.append(record)
        try:
            result = self.store.write(records)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            # One record the database will not take must not hold up the rest.
            log.exception("the database refused a batch of %d messages; storing them one by "
                          "one", len(records))
            result = self.store.write_each(records, self.clock())
        self._log(records, result)
        if self.on_commit is not None:
            stations = {record.station for record in records if not isinstance(record, Refusal)}
            try:
                self.on_commit(stations)
            except Exception:  # a listener's failure must not stop the writer
                log.exception("a listener of ingest's commits failed")

    def _log(self, records: list[Record], result: BatchResult) -> None:
        refusals = {record.reason: record for record in records if isinstance(record, Refusal)}
        for reason, number in result.counted.items():
            before = self._logged[reason]
            self._logged[reason] += number
            # The first, then the 2nd, 4th, 8th...: a flood from one publisher stays readable.
            if before == 0 or before.bit_length() != self._logged[reason].bit_length():
                refusal = refusals.get(reason)
                where = f" on {refusal.topic}: {refusal.problem}" if refusal else ""
                if reason.refuses:
                    log.warning("refused a message (%s)%s; %d refused for this reason since "
                                "start, none stored", reason.value, where,
                                self._logged[reason])
                else:
                    log.info("%d message(s) counted as %s since start", self._logged[reason],
                             reason.value)


class Ingest:
    """Subscribes to every station under the topic root and stores what arrives in `store`.

    Threads: paho's network thread only puts each message on a queue (`_on_message`) and
    counts connections. The writer thread owns the rest: it reads and checks each message
    against the contract, writes a batch in one transaction, and then acknowledges the batch
    to the broker (paho's manual acknowledgement).
    """

    def __init__(self, store: Store | None, settings: IngestSettings,
                 clock: Callable[[], float] = time.time,
                 on_commit: Callable[[set[StationKey]], None] | None = None,
                 write: Callable[[Sequence[Arrival]], None] | None = None) -> None:
        """`store` and `on_commit` make the `BatchWriter` that writes each batch (on the
        writer thread); or `write` does it instead (`IngestProcess`: in another process)."""
        self.store = store
        self.settings = settings
        self.clock = clock
        if write is None:
            assert store is not None
            write = BatchWriter(store, settings.topic_root, clock, on_commit).write
        self._write_batch = write
        self._since: float | None = None
        self._problem = "not connected yet"
        self._lag: float | None = None
        self._database_problem = ""
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._queue: queue.SimpleQueue[Arrival] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._committed = threading.Condition()
        self._connection = 0  # changes on every connect and disconnect
        self._ack_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self.client = self._make_client()

    # -- the MQTT side (paho's thread) ------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        settings = self.settings
        if settings.protocol not in ("5", "3.1.1"):
            raise ConfigError([f"MQTT protocol {settings.protocol!r}: use '5' or '3.1.1'"])
        version5 = settings.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=settings.client_id,
            protocol=mqtt.MQTTv5 if version5 else mqtt.MQTTv311,
            clean_session=None if version5 else False, manual_ack=True,
        )
        settings.prepare(client)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%d refused the dashboard (%s); check its login and that "
                      "the ACL lets it read %s/#", self.settings.host, self.settings.port,
                      reason, self.settings.topic_root)
            self._problem = f"the broker refused the dashboard's login ({reason})"
            return
        with self._ack_lock:
            self._connection += 1
        self._since, self._problem = self.clock(), ""
        log.info("ingest connected to MQTT broker %s:%d (session %s)", self.settings.host,
                 self.settings.port, "resumed" if flags.session_present else "new")
        client.subscribe([(topic, 1) for topic in subscriptions(self.settings.topic_root)])
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        with self._ack_lock:
            self._connection += 1
        self.connected.clear()
        self.subscribed.clear()
        if self._problem == "" or self._since is None:
            self._since = self.clock()
        if not self._problem.startswith("the broker refused"):
            self._problem = f"lost the connection ({reason})"
        if not self._stopping.is_set():
            log.warning("ingest lost the MQTT broker %s:%d (%s); the broker keeps the "
                        "messages until it is back", self.settings.host, self.settings.port,
                        reason)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._problem = "nothing answers at that address; the dashboard keeps trying"

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the MQTT broker refused the dashboard's subscription to %s (%s); "
                      "check that its ACL lets the dashboard read them",
                      ", ".join(subscriptions(self.settings.topic_root)), reasons)
            return
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        self._queue.put(Arrival(message.topic, bytes(message.payload), bool(message.retain),
                                 message.mid, message.qos, self.clock(), self._connection))

    # -- the writer thread -------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            gathered = time.monotonic() + self.settings.gather_s
            while len(batch) < self.settings.batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except queue.Empty:
                    pass
                # Quiet: what a press sends (its events, the counts, the state) arrives
                # within a few milliseconds, and waiting `gather_s` for the rest writes it in
                # one transaction, not four, each with its commit and a render for every live
                # page. Busy (a batch already large), the writer goes on at once.
                left = gathered - time.monotonic()
                if len(batch) >= GATHER_BELOW or left <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            try:
                if self._store(batch):
                    self._acknowledge(batch)
            except Exception:
                # Unacknowledged, the batch comes again after the next reconnect.
                log.exception("ingest could not store a batch of %d messages", len(batch))

    def _store(self, batch: list[Arrival]) -> bool:
        """Write `batch`; False if the database stayed out of reach until ingest stopped."""
        pause = 1.0
        while True:
            try:
                self._write_batch(batch)
                break
            except (OperationalError, InterfaceError) as error:
                log.error("the dashboard's database cannot be written (%s); the broker keeps "
                          "the messages, retrying in %.0f s", error.orig or error, pause)
                self._database_problem = str(error.orig or error).strip().splitlines()[0]
                if self._stopping.wait(pause):
                    return False
                pause = min(pause * 2, 30.0)
        self._database_problem = ""
        self._lag = self.clock() - batch[0].received
        with self._committed:
            self._committed.notify_all()
        return True

    def _acknowledge(self, batch: list[Arrival]) -> None:
        # A message from an earlier connection is not acknowledged: the broker sends it
        # again on the new one, and its packet id may by now name another message.
        with self._ack_lock:
            for arrival in batch:
                if arrival.qos and arrival.connection == self._connection:
                    self.client.ack(arrival.mid, arrival.qos)

    # -- running ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying in the background until the broker answers) and start writing."""
        self._since = self.clock()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer",
                                        daemon=True)
        self._writer.start()
        properties = None
        if self.settings.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.settings.session_expiry_s
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=30,
                                  clean_start=False, properties=properties)
        self.client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store what has arrived, acknowledge it, and disconnect; the broker keeps the
        session and queues what comes next."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def writing(self) -> bool:
        """The writer thread is alive (or ingest was stopped on purpose)."""
        return self._writer is None or self._writer.is_alive() or self._stopping.is_set()

    def status(self) -> IngestStatus:
        """How ingest is doing now."""
        return IngestStatus(
            connected=self.connected.is_set(), since=self._since,
            problem="" if self.connected.is_set() else self._problem,
            waiting=self._queue.qsize(), lag_s=self._lag,
            database_problem=self._database_problem)

    def wait_for(self, condition: Callable[[], Any], timeout: float) -> bool:
        """Wait until `condition()` is true, asking again after each committed batch."""
        with self._committed:
            return self._committed.wait_for(condition, timeout)

    def gaps(self) -> list[SeqGap]:
        """Each station's missing seq ranges: what `GapFiller` asks stations to replay."""
        assert self.store is not None
        return self.store.gaps()
