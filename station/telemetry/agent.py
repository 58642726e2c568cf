"""The telemetry agent: delivers the event log to MQTT, at least once, in order.

It reads events after its durable delivery cursor, publishes each at QoS 1 and advances the
cursor only when the broker has acknowledged them, so a broker outage, a lost network or a
crash of either process delays delivery but loses nothing (a redelivered event keeps its
``id`` so consumers can drop duplicates). From the delivered events it keeps the station's
retained state, the session's counts and aggregates, and publishes a summary when a session
ends; it reports its own health (backlog, disk space) and the station's audio (as the
engine's events tell it) and relays commands to the engine.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station import sdnotify
from station.config import LoadedStation
from station.contract.events import EventType
from station.contract.topics import OFFLINE, ONLINE, Topics
from station.telemetry.aggregate import (
    AudioStatus,
    PressGaps,
    SessionTally,
    StationState,
    session_summary,
)
from station.telemetry.choices import StationChoices
from station.telemetry.commands import CommandRelay, CommandWorker, stamped
from station.telemetry.eventlog import DeliveryCursor, EventReader
from station.telemetry.homeassistant import discovery_messages
from station.telemetry.replay import Replays

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02  # how often the agent looks for new events when idle
# With watchdog pings every 5 s (WatchdogSec=10), a batch stalled this long still leaves the
# gap between pings under 10 s: a stalled broker must not look like a hung agent.
ACK_TIMEOUT_SECONDS = 4.0
# After the broker refused events (MQTT 5: e.g. the ACL), wait before trying again; short
# enough to keep the watchdog fed.
REFUSED_RETRY_SECONDS = 3.0
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason: the broker speaks no MQTT 5
BATCH_SIZE = 200
PURGE_EVERY_SECONDS = 60.0
DAY = 86400.0
MEGABYTE = 1024 * 1024
DRAIN_SECONDS = 2.0  # a clean stop delivers what is left in the log for at most this long


def _compact(message: Any) -> str:
    return json.dumps(message, separators=(",", ":"))


class TelemetryAgent:
    """Connects to the broker and delivers the event log until `stopping` is set.

    Threads: everything the agent keeps (the tallies `counts`, `state` and `gaps`, the reader
    and the cursor, the refusals and the offline reason) belongs to the thread that runs
    `run()`, the delivery loop. paho's network thread only signals: its callbacks set or clear
    `connected`, put what happened on `_news` for the loop to act on between batches (announce
    the station after a (re)connect, say why it is offline), note refusals on `_refusals` and
    hand commands to the command worker. Driven without `run()` (tests call `deliver_once` and
    `publish_periodic`), the calling thread is the owner.
    """

    def __init__(self, station: LoadedStation, overrides: Sequence[str] = ()) -> None:
        config = station.config
        self.station = station
        self.choices = StationChoices(station, overrides)  # what a dashboard may switch to
        self.topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
        self.stopping = threading.Event()
        self.connected = threading.Event()  # set by paho's thread while it has a connection
        # What paho's thread saw, for the delivery loop to act on, in order.
        self._news: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._periodic_due = False  # at once after (re)connecting, then regularly
        self.reader = EventReader(station.data_dir)
        self.cursor = DeliveryCursor(station.data_dir)
        self.counts = SessionTally()
        self.counts.restore(self.reader, self.cursor.seq)
        self.state = StationState()
        self.state.restore(self.reader, self.cursor.seq)
        self.audio = AudioStatus()  # on the health topic, published at once when it changes
        self.audio.restore(self.reader, self.cursor.seq)
        self.gaps = PressGaps(self.reader)
        name, site = config.station.id, config.station.site
        self.replays = Replays(self.reader, lambda event, gap: event.as_message(name, site, gap))
        self.commands = CommandRelay(station.data_dir,
                                     agent_commands={"replay": self.replays.request})
        self.command_worker: CommandWorker | None = None
        self.offline_reason = "not connected yet"
        self.disk_low = False
        # The embedded broker (amqtt) speaks 3.1.1 only, and cannot even parse an MQTT 5
        # CONNECT with a will to refuse it properly.
        self.protocol = (mqtt.MQTTv311 if config.mqtt.protocol == "3.1.1" or not config.mqtt.host
                         else mqtt.MQTTv5)
        self._refusals: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()  # from paho
        self._refused: dict[int, str] = {}  # mid → the broker's reason (MQTT 5 PUBACK)
        self.delivery_error = ""
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        config = self.station.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sensory-station-{config.station.site}-{config.station.id}",
            protocol=self.protocol,
        )
        if config.mqtt.username:
            client.username_pw_set(
                config.mqtt.username, config.mqtt.password.get_secret_value() or None
            )
        if config.mqtt.uses_tls:
            mqtt_config = config.mqtt
            client.tls_set(
                ca_certs=str(self.station.resolve(mqtt_config.ca_file))
                if mqtt_config.ca_file else None,
                certfile=str(self.station.resolve(mqtt_config.cert_file))
                if mqtt_config.cert_file else None,
                keyfile=str(self.station.resolve(mqtt_config.key_file))
                if mqtt_config.key_file else None,
            )
        client.will_set(self.topics.status, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    @property
    def broker(self) -> tuple[str, int]:
        mqtt_config = self.station.config.mqtt
        return (mqtt_config.host or "127.0.0.1", mqtt_config.port)

    def _went_offline(self, reason: str) -> None:
        self.offline_reason = reason
        sdnotify.status(f"offline: {reason}; events wait in the log")

    @property
    def _may_fall_back(self) -> bool:
        return self.protocol == mqtt.MQTTv5 and self.station.config.mqtt.protocol == "auto"

    # -- paho callbacks (paho's network thread: they only signal and hand over) ---------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._news.put(partial(self._connection_refused, reason))
            return
        # Queued before `connected` is set: the loop takes the news after it looked at
        # `connected`, so it announces the station before it delivers on this connection.
        self._news.put(self._announce)
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected.is_set():
            self._news.put(partial(self._lost, reason))
        self.connected.clear()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._news.put(self._unreachable)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        # Called before paho marks the message published, so _acknowledged sees it.
        if reason.is_failure:
            self._refusals.put((mid, str(reason)))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._homeassistant_status:
            if message.payload == ONLINE.encode():  # Home Assistant (re)started
                self._news.put(self.publish_discovery)
            return
        # Only commands are answered: the embedded broker (amqtt 0.12) also hands a
        # connecting client retained messages of topics that other clients subscribed to.
        if self.command_worker is not None and self.topics.is_command(message.topic):
            self.command_worker.submit(
                self.topics.command_name(message.topic), bytes(message.payload),
                bool(message.retain),
            )

    # -- what the callbacks reported, acted on by the delivery loop ---------------------------
    def _take_news(self) -> None:
        while True:
            try:
                act = self._news.get_nowait()
            except queue.Empty:
                return
            act()

    def _retain(self, topic: str, message: Any) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, _compact(message), qos=1, retain=True)

    def _announce(self) -> None:
        """After a (re)connect: online, the subscriptions, and the retained messages."""
        log.info("connected to MQTT broker %s:%d (MQTT %s)", *self.broker,
                 "5" if self.protocol == mqtt.MQTTv5 else "3.1.1")
        self.client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        self.client.subscribe(self.topics.commands, qos=1)
        if self.station.config.mqtt.homeassistant_discovery:
            self.client.subscribe(self._homeassistant_status, qos=1)
            self.publish_discovery()
        # A broker that restarted without persistence has lost the retained messages.
        self._retain(self.topics.choices, self.choices.message)
        if self.state.known:
            self._retain(self.topics.state, self.state.message())
        if self.counts.session:
            self._publish_counts()
        sdnotify.status("online: delivering events")
        self.offline_reason = ""
        self._periodic_due = True

    def _connection_refused(self, reason: Any) -> None:
        if reason.value == UNSUPPORTED_PROTOCOL and self._may_fall_back:
            log.info("MQTT broker %s:%d speaks no MQTT 5; using 3.1.1", *self.broker)
            self._reconnect_with_mqtt_3()
            return
        self._went_offline(f"the broker refused the login ({reason})")
        log.error(
            "MQTT broker %s:%d refused the connection: %s; check mqtt.username and "
            "mqtt.password, and that the broker's ACL lets this login write %s/#",
            *self.broker, reason, self.topics.base,
        )

    def _lost(self, reason: Any) -> None:
        self._went_offline(f"lost the broker ({reason})")
        log.warning(
            "lost the MQTT broker %s:%d (%s); events wait in the log until it is back",
            *self.broker, reason,
        )

    def _unreachable(self) -> None:
        # paho does not say why; one short probe does (refused, unknown host, timed out).
        try:
            socket.create_connection(self.broker, timeout=2).close()
            why = ("the TLS handshake failed; check mqtt.ca_file and that the broker's "
                   "certificate names this host" if self.station.config.mqtt.uses_tls
                   else "the MQTT connection failed")
        except OSError as error:
            why = error.strerror or str(error) or type(error).__name__
        reason = f"cannot reach the MQTT broker {self.broker[0]}:{self.broker[1]}: {why}"
        if reason != self.offline_reason:
            log.warning("%s; retrying every 1 to 30 s, events wait in the log", reason)
        self._went_offline(reason)

    # -- publishing -------------------------------------------------------------------------
    @property
    def _homeassistant_status(self) -> str:
        return f"{self.station.config.mqtt.homeassistant_prefix}/status"

    def publish_discovery(self) -> None:
        """Home Assistant's discovery configs, retained (cheap: paho queues them)."""
        config = self.station.config
        inputs = [item.name for item in config.inputs]
        messages = discovery_messages(self.topics, inputs, config.mqtt.homeassistant_prefix)
        for topic, payload in messages.items():
            self._retain(topic, payload)

    def publish_ack(self, ack: dict[str, Any]) -> None:
        self.client.publish(self.topics.ack, _compact(ack), qos=1)

    def _publish_counts(self) -> list[mqtt.MQTTMessageInfo]:
        counts = self.counts
        messages = {self.topics.counts: _compact(counts.counts_message())} | {
            self.topics.input_presses(name): str(count) for name, count in counts.counts.items()}
        return [self.client.publish(topic, payload, qos=1, retain=True)
                for topic, payload in messages.items()]

    def _take_refusals(self) -> None:
        while True:
            try:
                mid, reason = self._refusals.get_nowait()
            except queue.Empty:
                return
            self._refused[mid] = reason

    def _acknowledged(self, infos: list[mqtt.MQTTMessageInfo]) -> bool:
        """Wait (up to ACK_TIMEOUT_SECONDS in all) until the broker acknowledged every message."""
        deadline = time.monotonic() + ACK_TIMEOUT_SECONDS
        for info in infos:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.connected.is_set():
                return False
            try:
                info.wait_for_publish(timeout=remaining)
            except (RuntimeError, ValueError):  # the connection went away mid-batch
                return False
            if not info.is_published():
                return False
        self._take_refusals()
        refusals = [self._refused.pop(info.mid) for info in infos if info.mid in self._refused]
        if refusals:
            error = (f"the broker refused {len(refusals)} messages ({refusals[0]}); check that "
                     f"its ACL lets this station's login write {self.topics.base}/#")
            if error != self.delivery_error:
                log.error("%s; the events stay in the log and are sent again", error)
            self.delivery_error = error
            sdnotify.status(f"online, but {error}")
            self.stopping.wait(REFUSED_RETRY_SECONDS)
            return False
        if self.delivery_error:
            log.info("the broker takes the station's messages again")
            self.delivery_error = ""
        return True

    def _publish_events(self, messages: list[dict[str, Any]]) -> bool:
        """Publish events again (a replay); True once the broker acknowledged them all."""
        self._take_refusals()
        self._refused.clear()
        return self._acknowledged([
            self.client.publish(self.topics.events, _compact(message), qos=1)
            for message in messages
        ])

    def deliver_once(self) -> int:
        """Publish the next batch of events; the number acknowledged (0 if none or failed)."""
        events = self.reader.after(self.cursor.seq, BATCH_SIZE)
        if not events:
            return 0
        config = self.station.config.station
        # Refusals of earlier messages (retained state, acks) do not concern this batch, and
        # message ids wrap around.
        self._take_refusals()
        self._refused.clear()
        infos = [
            self.client.publish(
                self.topics.events,
                _compact(event.as_message(config.id, config.site, self.gaps.gap_ms(event))),
                qos=1,
            )
            for event in events
        ]
        # A session's summary is as durable as its events: the cursor passes its end only
        # once the broker has the summary too. A session that a crash cut short (a new one
        # starts while it is still open) gets its summary too, marked as interrupted.
        open_session = self.state.session
        for event in events:
            ended = ""
            if event.type == EventType.SESSION_END and event.session:
                ended, open_session = event.session, ""
            elif event.type == EventType.SESSION_START:
                ended, open_session = open_session, event.session
            if ended:
                summary = session_summary(
                    self.reader.session_events(ended, event.seq),
                    self.station.config.telemetry.engaged_gap_seconds,
                    self.choices.goals_of,
                )
                infos.append(self._retain(self.topics.summary, summary))
        if not self._acknowledged(infos):
            return 0
        counts_changed = state_changed = False
        for event in events:
            counts_changed |= self.counts.apply(event)
            state_changed |= self.state.apply(event)
            self._periodic_due |= self.audio.apply(event)
        self.cursor.advance(events[-1].seq)
        if counts_changed:
            self._publish_counts()
        if state_changed:
            self._retain(self.topics.state, self.state.message())
        if any(event.type == EventType.CLIENT_CHANGED for event in events) and (
                self.choices.reread()):  # a reload records one: its files may have changed
            self._retain(self.topics.choices, self.choices.message)
        return len(events)

    def health(self) -> dict[str, Any]:
        """The agent's view of the station, for the retained health topic."""
        backlog, recorded = self.reader.backlog(self.cursor.seq)
        free_mb = shutil.disk_usage(self.station.data_dir).free / MEGABYTE
        minimum = self.station.config.telemetry.min_free_mb
        disk_low = free_mb < minimum
        if disk_low != self.disk_low:
            if disk_low:
                log.error(
                    "only %.0f MB free for the event log in %s (under telemetry.min_free_mb = "
                    "%.0f); free space or events will stop being recorded",
                    free_mb, self.station.data_dir, minimum)
            else:
                log.info("disk space for the event log is back: %.0f MB free", free_mb)
            self.disk_low = disk_low
        return {
            "t_wall": time.time(),
            "backlog": backlog,
            "delivered_seq": self.cursor.seq,
            "recorded_seq": recorded,
            "disk_free_mb": round(free_mb, 1),
            "disk_low": disk_low,
            "retention_days": self.station.config.telemetry.retention_days,
            **self.audio.message(),
            **({"delivery_error": self.delivery_error} if self.delivery_error else {}),
        }

    def publish_periodic(self) -> None:
        """Aggregates and health, every telemetry.aggregate_seconds."""
        period = self.station.config.telemetry.aggregate_seconds
        health = self.health()
        if not self.connected.is_set():
            return
        self._retain(self.topics.health, health)
        if self.counts.session:
            self.client.publish(
                self.topics.aggregates, _compact(self.counts.aggregates_message(period)),
                qos=1, retain=True,
            )

    def purge_old_events(self) -> int:
        """Delete delivered events older than telemetry.retention_days (0: keep everything)."""
        days = self.station.config.telemetry.retention_days
        if days <= 0:
            return 0
        deleted = total = 0
        while (deleted := self.reader.purge(self.cursor.seq, time.time() - days * DAY)) > 0:
            total += deleted
            if self.stopping.is_set():
                break
        if total:
            log.info("deleted %d delivered events older than %g days", total, days)
        return total

    def _reconnect_with_mqtt_3(self) -> None:
        self.client.loop_stop()
        # What the refused connection reported no longer matters (it may have retried).
        while not self._news.empty():
            self._news.get_nowait()
        self.protocol = mqtt.MQTTv311
        self.client = self._make_client()
        self.client.connect_async(*self.broker, keepalive=self.station.config.mqtt.keepalive)
        self.client.loop_start()

    def _deliver_what_is_left(self) -> None:
        """On a clean stop, deliver what the log still holds (the engine, stopped first, has
        just recorded its last events), for at most DRAIN_SECONDS; the rest waits for the
        next start, as after a crash."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.connected.is_set() and time.monotonic() < deadline:
            self._take_news()
            if self.deliver_once() == 0:
                return

    def run(self) -> int:
        host, port = self.broker
        log.info("telemetry agent: delivering to %s:%d from event %d", host, port, self.cursor.seq)
        self.command_worker = CommandWorker(self.commands, self.publish_ack)
        self.client.connect_async(host, port, keepalive=self.station.config.mqtt.keepalive)
        self.client.loop_start()
        sdnotify.ready("delivering events")
        period = sdnotify.watchdog_period()
        aggregate_seconds = self.station.config.telemetry.aggregate_seconds
        last_ping = last_periodic = last_purge = 0.0
        try:
            while not self.stopping.is_set():
                connected = self.connected.is_set()
                self._take_news()  # after looking at `connected`: see _on_connect
                delivered = self.deliver_once() if connected else 0
                if connected:
                    self.replays.step(self._publish_events,
                                      lambda ack: self.publish_ack(stamped(ack)))
                now = time.monotonic()
                if period is not None and now - last_ping >= period:
                    sdnotify.watchdog_ping()
                    last_ping = now
                if now - last_periodic >= aggregate_seconds or (
                    self._periodic_due and self.connected.is_set()
                ):
                    self._periodic_due = False
                    self.publish_periodic()
                    last_periodic = now
                if now - last_purge >= PURGE_EVERY_SECONDS:
                    self.purge_old_events()
                    last_purge = now
                if delivered < BATCH_SIZE:
                    self.stopping.wait(POLL_SECONDS)
        finally:
            sdnotify.stopping()
            self.command_worker.stop()
            self._deliver_what_is_left()
            if self.connected.is_set():
                self.connected.clear()  # a disconnect we ask for is not a lost broker
                offline = self.client.publish(self.topics.status, OFFLINE, qos=1, retain=True)
                offline.wait_for_publish(2)
            self.client.disconnect()
            self.client.loop_stop()
            self.reader.close()
            self.cursor.close()
        return 0
