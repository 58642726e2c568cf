"""Outbox throughput: sustained events/s recorded durably and delivered by the agent.

Records N events with `EventRecorder` (SQLite WAL, synchronous=FULL, the engine's writer) as
fast as it takes them, while `station agent` (its own process, QoS 1, durable cursor) delivers
them to mosquitto; a paho subscriber counts arrivals. Reports the writer's rate and the
end-to-end delivery rate, events per second.
"""

from __future__ import annotations

import argparse
import shutil
import time
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=20000,
                        help="how many events to record and deliver (default 20000)")


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from station.bench._station import (
        ArrivalClock,
        BenchBroker,
        bench_folder,
        start,
        station_file,
        stop,
    )
    from station.config import load_station
    from station.telemetry.eventlog import PRESS, EventRecorder
    from station.telemetry.topics import Topics

    folder = bench_folder()
    broker = BenchBroker(folder)
    config = station_file(folder, broker.port)
    station = load_station(config)
    topics = Topics(station.config.mqtt.topic_root, station.config.station.site,
                    station.config.station.id)
    clock = ArrivalClock(broker.port, topics.events)
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.flush()
    agent = start("agent", config)
    try:
        if not clock.wait_until(lambda arrivals: len(arrivals) >= 1, 30):
            raise SystemExit("the agent did not deliver")
        total = arguments.events
        begin = time.monotonic()
        for _ in range(total):
            recorder.record(PRESS, "big-red", None)
        recorder.flush(120)
        recorded = time.monotonic()
        delivered_all = clock.wait_until(lambda arrivals: len(arrivals) >= total + 1, 300)
        delivered = time.monotonic()
    finally:
        clock.close()
        stop(agent)
        recorder.close()
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "events": total,
        "durability": "SQLite WAL, synchronous=FULL; QoS 1 with a durable delivery cursor",
        "recorded_per_second": round(total / (recorded - begin)),
        "delivered_per_second": round(total / (delivered - begin)) if delivered_all else None,
        "all_delivered": delivered_all,
    }
