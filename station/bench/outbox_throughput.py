"""Outbox throughput: sustained events/s recorded durably and delivered by the agent.

Records N events with `EventRecorder` (SQLite WAL, synchronous=FULL, the engine's writer) as
fast as it takes them, while `station agent` (its own process, QoS 1, durable cursor) delivers
them to mosquitto; a paho subscriber counts arrivals. Reports the writer's rate and the
end-to-end delivery rate, events per second.
"""

from __future__ import annotations

import argparse
import time
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=20000,
                        help="how many events to record and deliver (default 20000)")


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from station.bench._station import BenchStation, start, stop
    from station.contract.events import EventType
    from station.telemetry.eventlog import EventRecorder

    bench = BenchStation()
    clock = bench.clock
    recorder = EventRecorder(bench.station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.flush()
    agent = start("agent", bench.config)
    try:
        if not clock.wait_until(lambda arrivals: len(arrivals) >= 1, 30):
            raise SystemExit("the agent did not deliver")
        total = arguments.events
        begin = time.monotonic()
        for _ in range(total):
            recorder.record(EventType.PRESS, "big-red", None)
        recorder.flush(120)
        recorded = time.monotonic()
        delivered_all = clock.wait_until(lambda arrivals: len(arrivals) >= total + 1, 300)
        delivered = time.monotonic()
    finally:
        stop(agent)
        recorder.close()
        bench.close()
    return {
        "events": total,
        "durability": "SQLite WAL, synchronous=FULL; QoS 1 with a durable delivery cursor",
        "recorded_per_second": round(total / (recorded - begin)),
        "delivered_per_second": round(total / (delivered - begin)) if delivered_all else None,
        "all_delivered": delivered_all,
    }
