"""Press to MQTT message: latency from a simulated press to its event at a subscriber.

Starts mosquitto, `station engine --simulate` (null audio) and `station agent`, pipes presses
into the engine at each rate, and measures, per press, the time from the edge (the event's
`t_mono`, taken in the engine's GPIO callback) to the arrival of its message at a paho
subscriber on the same machine (same monotonic clock). Milliseconds.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 200.0],
                        help="presses per second to measure at (default 10 200)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="how long each rate is held, seconds (default 10)")


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from station.bench._station import BenchStation, percentiles, start, stop

    bench = BenchStation()
    clock = bench.clock
    engine = start("engine", bench.config, "--simulate")
    agent = start("agent", bench.config)
    results: dict[str, Any] = {"unit": "ms", "rates": {}}
    try:
        if not clock.wait_until(lambda arrivals: any(
                event["type"] == "session_start" for _, event in arrivals), 30):
            raise SystemExit("the station did not start")
        assert engine.stdin is not None
        pacer = threading.Event()
        for rate in arguments.rates:
            count = max(1, int(rate * arguments.seconds))
            before = len(clock.arrivals)
            interval = 1.0 / rate
            begin = time.monotonic()
            for index in range(count):
                # Paced against the start, so a late write does not slow the whole run down.
                delay = begin + index * interval - time.monotonic()
                if delay > 0:
                    pacer.wait(delay)
                engine.stdin.write("press big-red\nrelease big-red\n")
                engine.stdin.flush()
            clock.wait_until(lambda arrivals, b=before, n=count: sum(
                event["type"] == "press" for _, event in arrivals[b:]) >= n, 60)
            latencies = [(arrived - event["t_mono"]) * 1000.0
                         for arrived, event in clock.arrivals[before:]
                         if event["type"] == "press"]
            results["rates"][f"{rate:g}/s"] = {"presses": count, **percentiles(latencies)}
    finally:
        stop(agent)
        stop(engine)
        bench.close()
    return results
