"""Shared set-up for the telemetry benchmarks: a mosquitto on a free port, a station config
in a temporary folder, station processes, and a subscriber that timestamps arrivals."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from station.bench._config import copy_config, shipped_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BenchBroker:
    """mosquitto on a free localhost port, in its own folder (persistence like production)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise SystemExit("the benchmark needs mosquitto (apt-get install mosquitto)")
        self.port = free_port()
        config = folder / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                          f"user {getpass.getuser()}\npersistence false\n")
        self.process = subprocess.Popen([binary, "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("mosquitto did not start") from None
                threading.Event().wait(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def bench_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="station-bench-"))


def station_file(folder: Path, port: int) -> Path:
    """The shipped config in `folder`, on `port`, with null audio and a client profile
    without debounce or lockout so that every piped press is accepted."""
    import tomllib

    import tomli_w

    copy_config(shipped_config(), folder / "config")
    path = folder / "config" / "station.toml"
    data = tomllib.loads(path.read_text())
    data["station"]["data_dir"] = str(folder / "data")
    data["audio"]["backend"] = "null"
    data["mqtt"].update(host="127.0.0.1", port=port)
    path.write_text(tomli_w.dumps(data))
    profile = folder / "config" / "clients" / "C-7F3K.toml"
    profile.write_text(profile.read_text().replace("debounce_ms = 20", "debounce_ms = 0"))
    return path


def start(command: str, config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "station", command, "--config", str(config), *extra],
        stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ArrivalClock:
    """Subscribes to a topic and records (monotonic arrival time, JSON payload)."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.changed = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit("the benchmark's subscriber could not subscribe")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        now = time.monotonic()
        with self.changed:
            self.arrivals.append((now, json.loads(message.payload)))
            self.changed.notify_all()

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.arrivals), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else (
        ordered * 99)
    return {"p50": round(cut[49], 2), "p99": round(cut[98], 2), "max": round(ordered[-1], 2),
            "count": len(ordered)}


class BenchStation:
    """Everything a telemetry benchmark stands on: a broker, a station config in a temporary
    folder, and a clock on the station's events topic. `close()` removes it all."""

    def __init__(self) -> None:
        from station.config import load_station
        from station.contract.topics import Topics

        self.folder = bench_folder()
        self.broker = BenchBroker(self.folder)
        self.config = station_file(self.folder, self.broker.port)
        self.station = load_station(self.config)
        settings = self.station.config
        topics = Topics(settings.mqtt.topic_root, settings.station.site, settings.station.id)
        self.clock = ArrivalClock(self.broker.port, topics.events)

    def close(self) -> None:
        self.clock.close()
        self.broker.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

