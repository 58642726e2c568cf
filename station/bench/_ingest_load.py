"""The load of `station bench dashboard`'s `ingest`: many simulated stations publishing
contract-valid events, as a station's agent publishes them, at a steady total rate.

Runs in a process of its own (`start_load`), so that its publishing does not hold the GIL
of the process that measures. Each station has its own paho client (QoS 1), its own session
and its own seq from 1; every `resend_every`-th event is published a second time with the
same id, as a redelivery is. The events are made and encoded before the clock starts.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

SITE = "load-site"
CLIENT = "C-L0AD"
SOUND_SET = "calm-bells"


@dataclass(frozen=True)
class Load:
    """What to publish: `stations` stations, `rate` events a second in all, for `seconds`."""

    port: int
    topic_root: str
    stations: int
    rate: float
    seconds: float
    resend_every: int = 20

    @property
    def events_per_station(self) -> int:
        return max(2, round(self.rate * self.seconds / self.stations))

    @property
    def unique_events(self) -> int:
        return self.events_per_station * self.stations

    @property
    def resent(self) -> int:
        return (self.events_per_station // self.resend_every) * self.stations


def station_name(index: int) -> str:
    return f"load-{index + 1:02d}"


def station_events(load: Load, index: int) -> list[dict[str, Any]]:
    """One station's events: a session start, then presses and releases (every press's
    ``gap_ms``, every release's hold), as `Event.as_message` makes them."""
    from station.contract.events import EventType
    from station.telemetry.eventlog import Event

    name = station_name(index)
    session = uuid.uuid4().hex[:12]
    t_wall, t_mono = time.time(), 1000.0 + index
    messages = []
    for seq in range(1, load.events_per_station + 1):
        kind = (EventType.SESSION_START if seq == 1 else
                EventType.PRESS if seq % 2 == 0 else EventType.RELEASE)
        hold = 120.0 if kind == EventType.RELEASE else None
        event = Event(seq=seq, id=uuid.uuid4().hex, type=kind, session=session, client=CLIENT,
                      sound_set=SOUND_SET, input=None if seq == 1 else "big-red", reason=None,
                      t_wall=round(t_wall + seq * 0.25, 3),
                      t_mono=round(t_mono + seq * 0.25, 3), hold_ms=hold, detail=None)
        messages.append(event.as_message(name, SITE, 380.0 if seq > 2 and hold is None
                                         else None))
    return messages


def _publish(load: Load, ready: Any, go: Any, report: Any) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from station.contract.topics import Topics

    queues: list[list[tuple[str, bytes]]] = []
    clients = []
    for index in range(load.stations):
        topic = Topics(load.topic_root, SITE, station_name(index)).events
        encoded = [(topic, json.dumps(message).encode()) for message in
                   station_events(load, index)]
        queue = []
        for number, item in enumerate(encoded, start=1):
            queue.append(item)
            if number % load.resend_every == 0:
                queue.append(item)  # the same id again: a redelivery
        queues.append(queue)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{station_name(index)}")
        client.max_inflight_messages_set(1000)
        client.connect("127.0.0.1", load.port)
        client.loop_start()
        clients.append(client)
    ready.set()
    go.wait()
    total = sum(len(queue) for queue in queues)
    interval = load.seconds / max(1, max(len(queue) for queue in queues))
    began = time.time()
    pause = threading.Event()
    infos = []
    # Each tick publishes the next event of every station: the rate is steady in all.
    for step in range(max(len(queue) for queue in queues)):
        delay = began + step * interval - time.time()
        if delay > 0:
            pause.wait(delay)
        for client, queue in zip(clients, queues, strict=True):
            if step < len(queue):
                topic, payload = queue[step]
                infos.append(client.publish(topic, payload, qos=1))
    published = time.time()
    for info in infos:
        info.wait_for_publish(60)
    acknowledged = time.time()
    for client in clients:
        client.disconnect()
        client.loop_stop()
    report.put({"began": began, "published": published, "acknowledged": acknowledged,
                "messages": total})


class LoadProcess:
    """`Load` published from a child process: `start()` connects the stations, `go()` starts
    the clock, `result()` waits for the end (the times are the wall clock's)."""

    def __init__(self, load: Load) -> None:
        context = multiprocessing.get_context("spawn")
        self.load = load
        self._ready = context.Event()
        self._go = context.Event()
        self._report = context.Queue()
        self.process = context.Process(target=_publish, name="bench-ingest-load",
                                       args=(load, self._ready, self._go, self._report),
                                       daemon=True)

    def start(self, timeout: float = 120.0) -> None:
        self.process.start()
        if not self._ready.wait(timeout):
            self.process.terminate()
            raise SystemExit("the simulated stations could not connect to the broker")

    def go(self) -> None:
        self._go.set()

    def result(self, timeout: float) -> dict[str, Any]:
        report: dict[str, Any] = self._report.get(timeout=timeout)
        self.process.join(10)
        return report
