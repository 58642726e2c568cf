"""Real station processes for the telemetry tests: `station engine` and `station agent`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from station.config import LoadedStation, load_station
from station.contract.topics import Topics
from station.engine.control_socket import ControlError, send_command


@dataclass
class StationProcess:
    """One `station <command>` subprocess; its stderr is collected for the test to read."""

    arguments: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    log_lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def start(self) -> None:
        self.log_lines.clear()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "station", *self.arguments],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.environment},
        )
        stream = self.process.stderr
        assert stream is not None
        self._reader = threading.Thread(
            target=lambda: self.log_lines.extend(iter(stream.readline, "")), daemon=True
        )
        self._reader.start()

    @property
    def log(self) -> str:
        return "".join(self.log_lines)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def write(self, text: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def children(self) -> dict[str, int]:
        """pid of each child process by its `station` subcommand (engine, agent, broker)."""
        assert self.process is not None
        found = {}
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split():
            with contextlib.suppress(FileNotFoundError):
                words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if b"station" in words:
                    found[words[words.index(b"station") + 1].decode()] = int(pid)
        return found

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would end it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                # faulthandler in the process prints every thread's stack on SIGABRT.
                self.process.send_signal(signal.SIGABRT)
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                if self._reader is not None:
                    self._reader.join(5)
                pytest.fail(f"station {self.arguments[0]} ignored SIGTERM:\n{self.log}")
        if self._reader is not None:
            self._reader.join(5)
        return self.process.returncode


@pytest.fixture
def station(station_config: Any, mosquitto: Any) -> LoadedStation:
    """The shipped config on the fixture broker, with the silent real-time audio backend and
    aggregates every second."""
    return load_station(station_config({
        "mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port, "audio.backend": "null",
        "telemetry.aggregate_seconds": 1.0,
    }))


@pytest.fixture
def topics(station: LoadedStation) -> Topics:
    config = station.config
    return Topics(config.mqtt.topic_root, config.station.site, config.station.id)


def wait_for_engine(data_dir: Path, process: StationProcess, timeout: float = 15.0) -> None:
    waited = threading.Event()
    for _ in range(int(timeout / 0.1)):
        try:
            send_command(data_dir, {"command": "status"}, timeout=0.2)
            return
        except ControlError:
            if not process.running or waited.wait(0.1):
                break
    pytest.fail(f"the engine did not open its control socket:\n{process.log}")


@pytest.fixture
def engine_process(station: LoadedStation) -> Iterator[StationProcess]:
    """`station engine --simulate` (press lines on its stdin), answering on its socket."""
    engine = StationProcess(["engine", "--simulate", "--config", str(station.path)])
    engine.start()
    wait_for_engine(station.data_dir, engine)
    yield engine
    engine.stop()


@pytest.fixture
def agent_process(station: LoadedStation) -> Iterator[StationProcess]:
    """`station agent` (not yet started: tests start it when they need it)."""
    agent = StationProcess(["agent", "--config", str(station.path)])
    yield agent
    if agent.process is not None:
        agent.stop()
