"""The load of `station bench dashboard`'s `ingest`: many simulated stations publishing
contract-valid events, as a station's agent publishes them, at a steady total rate.

Runs in a process of its own (`LoadProcess`), so that its pacing does not hold the GIL of
the process that measures. Each station has its own MQTT client (Debian's `mosquitto_pub`,
QoS 1, one message a line), its own session and its own seq from 1; every
`resend_every`-th event is published a second time with the same id, as a redelivery is.
The events are made and encoded before the clock starts.
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
    import os
    import subprocess

    from station.contract.topics import Topics

    lines: list[list[bytes]] = []
    publishers: list[subprocess.Popen[bytes]] = []
    for index in range(load.stations):
        encoded = [json.dumps(message).encode() + b"\n"
                   for message in station_events(load, index)]
        queue = []
        for number, line in enumerate(encoded, start=1):
            queue.append(line)
            if number % load.resend_every == 0:
                queue.append(line)  # the same id again: a redelivery
        lines.append(queue)
        # mosquitto_pub reads one message a line and publishes it at QoS 1 (C, from Debian's
        # mosquitto-clients): 50 paho clients in one Python process could not publish 6,000
        # a second on this machine, so they, not the dashboard, set the rate.
        publishers.append(subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(load.port), "-q", "1",
             "-i", f"bench-{station_name(index)}",
             "-t", Topics(load.topic_root, SITE, station_name(index)).events, "-l"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    ready.set()
    go.wait()
    total = sum(len(queue) for queue in lines)
    steps = max(len(queue) for queue in lines)
    # A tick writes each station's next lines. Ticks of 50 ms keep the rate steady enough
    # and wake the 50 publishers a fifth as often as 10 ms (half a core here, at 10 ms).
    tick = 0.05
    per_tick = max(1, round(steps * tick / load.seconds))
    pause = threading.Event()
    began = time.time()
    for number, step in enumerate(range(0, steps, per_tick)):
        delay = began + number * tick - time.time()
        if delay > 0:
            pause.wait(delay)
        for publisher, queue in zip(publishers, lines, strict=True):
            if step < len(queue):
                assert publisher.stdin is not None
                os.write(publisher.stdin.fileno(), b"".join(queue[step:step + per_tick]))
    published = time.time()
    failed = []
    for publisher in publishers:
        assert publisher.stdin is not None
        publisher.stdin.close()  # at the end of its input it waits for the broker's acks
    for index, publisher in enumerate(publishers):
        assert publisher.stderr is not None
        if publisher.wait(timeout=120) != 0:
            said = publisher.stderr.read().decode(errors="replace").strip()
            failed.append(f"{station_name(index)}: {said or f'exit {publisher.returncode}'}")
        publisher.stderr.close()
    acknowledged = time.time()
    report.put({"began": began, "published": published, "acknowledged": acknowledged,
                "messages": total, "failed": failed})


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
        if report["failed"]:
            raise SystemExit("simulated stations failed to publish: "
                             + "; ".join(report["failed"]))
        return report
