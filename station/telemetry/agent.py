"""The telemetry agent: delivers the event log to MQTT, at least once, in order.

It reads events after its durable delivery cursor, publishes each at QoS 1 and advances the
cursor only when the broker has acknowledged them, so a broker outage, a lost network or a
crash of either process delays delivery but loses nothing (a redelivered event keeps its
``id`` so consumers can drop duplicates). It also keeps per-input press counts of the current
session on retained topics, and the station's availability on the status topic.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station import sdnotify
from station.config import LoadedStation
from station.telemetry.commands import CommandRelay, CommandWorker
from station.telemetry.eventlog import PRESS, SESSION_START, DeliveryCursor, Event, EventReader
from station.telemetry.topics import OFFLINE, ONLINE, Topics

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02  # how often the agent looks for new events when idle
# With watchdog pings every 5 s (WatchdogSec=10), a batch stalled this long still leaves the
# gap between pings under 10 s: a stalled broker must not look like a hung agent.
ACK_TIMEOUT_SECONDS = 4.0
BATCH_SIZE = 200


class SessionCounts:
    """Accepted presses per input in the current session, as delivered so far."""

    def __init__(self) -> None:
        self.session = ""
        self.client = ""
        self.counts: dict[str, int] = {}

    def restore(self, reader: EventReader, delivered_seq: int) -> None:
        """Rebuild the counts of the newest session started at or before `delivered_seq`."""
        latest = reader.latest_session()
        if latest is None or latest[1] > delivered_seq:
            return
        self.session = latest[0]
        self.counts = reader.press_counts(self.session, delivered_seq)

    def apply(self, event: Event) -> bool:
        """Count one delivered event; True if the counts changed."""
        if event.type == SESSION_START:
            self.session, self.client, self.counts = event.session, event.client, {}
            return True
        if event.type == PRESS and event.input is not None:
            self.client = event.client
            self.counts[event.input] = self.counts.get(event.input, 0) + 1
            return True
        return False

    def message(self) -> dict[str, Any]:
        return {"session": self.session, "client": self.client, "counts": dict(self.counts)}


class PressGaps:
    """Milliseconds since the previous accepted press of the same session, for each press.

    Kept in memory as events are published in order; looked up in the log when the memory
    does not reach back (after a restart, or when a failed batch is published again).
    """

    def __init__(self, reader: EventReader) -> None:
        self._reader = reader
        self._last: tuple[str, int, float] | None = None  # session, seq, t_mono

    def gap_ms(self, event: Event) -> float | None:
        if event.type != PRESS:
            return None
        last = self._last
        if last is not None and last[0] == event.session and last[1] < event.seq:
            previous: float | None = last[2]
        else:
            previous = self._reader.previous_press(event.session, event.seq)
        self._last = (event.session, event.seq, event.t_mono)
        return None if previous is None else (event.t_mono - previous) * 1000.0


class TelemetryAgent:
    """Connects to the broker and delivers the event log until `stopping` is set."""

    def __init__(self, station: LoadedStation) -> None:
        config = station.config
        self.station = station
        self.topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.reader = EventReader(station.data_dir)
        self.cursor = DeliveryCursor(station.data_dir)
        self.counts = SessionCounts()
        self.counts.restore(self.reader, self.cursor.seq)
        self.gaps = PressGaps(self.reader)
        self.commands = CommandRelay(station.data_dir)
        self.command_worker: CommandWorker | None = None
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        config = self.station.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sensory-station-{config.station.site}-{config.station.id}",
        )
        if config.mqtt.username:
            client.username_pw_set(
                config.mqtt.username, config.mqtt.password.get_secret_value() or None
            )
        client.will_set(self.topics.status, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    @property
    def broker(self) -> tuple[str, int]:
        mqtt_config = self.station.config.mqtt
        return (mqtt_config.host or "127.0.0.1", mqtt_config.port)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error(
                "MQTT broker %s:%d refused the connection: %s; check mqtt.username and "
                "mqtt.password", *self.broker, reason,
            )
            return
        log.info("connected to MQTT broker %s:%d", *self.broker)
        client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        client.subscribe(self.topics.commands, qos=1)
        if self.counts.session:
            # A broker that restarted without persistence has lost the retained counts.
            self._publish_counts()
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected.is_set():
            log.warning(
                "lost the MQTT broker %s:%d (%s); events wait in the log until it is back",
                *self.broker, reason,
            )
        self.connected.clear()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning(
            "cannot reach the MQTT broker %s:%d; retrying, events wait in the log",
            *self.broker,
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.command_worker is not None:
            self.command_worker.submit(
                self.topics.command_name(message.topic), bytes(message.payload),
                bool(message.retain),
            )

    def publish_ack(self, ack: dict[str, Any]) -> None:
        self.client.publish(self.topics.ack, json.dumps(ack, separators=(",", ":")), qos=1)

    def _publish_counts(self) -> list[mqtt.MQTTMessageInfo]:
        infos = [
            self.client.publish(
                self.topics.counts, json.dumps(self.counts.message()), qos=1, retain=True
            )
        ]
        for name, count in self.counts.counts.items():
            infos.append(
                self.client.publish(self.topics.input_presses(name), str(count), qos=1, retain=True)
            )
        return infos

    def deliver_once(self) -> int:
        """Publish the next batch of events; the number acknowledged (0 if none or failed)."""
        events = self.reader.after(self.cursor.seq, BATCH_SIZE)
        if not events:
            return 0
        config = self.station.config.station
        infos = [
            self.client.publish(
                self.topics.events,
                json.dumps(event.as_message(config.id, config.site, self.gaps.gap_ms(event)),
                           separators=(",", ":")),
                qos=1,
            )
            for event in events
        ]
        deadline = time.monotonic() + ACK_TIMEOUT_SECONDS
        for info in infos:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.connected.is_set():
                return 0
            try:
                info.wait_for_publish(timeout=remaining)
            except (RuntimeError, ValueError):  # the connection went away mid-batch
                return 0
            if not info.is_published():
                return 0
        counts_changed = False
        for event in events:
            counts_changed |= self.counts.apply(event)
        self.cursor.advance(events[-1].seq)
        if counts_changed:
            self._publish_counts()
        return len(events)

    def run(self) -> int:
        host, port = self.broker
        log.info("telemetry agent: delivering to %s:%d from event %d", host, port, self.cursor.seq)
        self.command_worker = CommandWorker(self.commands, self.publish_ack)
        self.client.connect_async(host, port, keepalive=self.station.config.mqtt.keepalive)
        self.client.loop_start()
        sdnotify.ready("delivering events")
        period = sdnotify.watchdog_period()
        last_ping = 0.0
        try:
            while not self.stopping.is_set():
                delivered = 0
                if self.connected.is_set():
                    delivered = self.deliver_once()
                if period is not None and time.monotonic() - last_ping >= period:
                    sdnotify.watchdog_ping()
                    last_ping = time.monotonic()
                if delivered < BATCH_SIZE:
                    self.stopping.wait(POLL_SECONDS)
        finally:
            sdnotify.stopping()
            self.command_worker.stop()
            if self.connected.is_set():
                self.connected.clear()  # a disconnect we ask for is not a lost broker
                offline = self.client.publish(self.topics.status, OFFLINE, qos=1, retain=True)
                offline.wait_for_publish(2)
            self.client.disconnect()
            self.client.loop_stop()
            self.reader.close()
            self.cursor.close()
        return 0
