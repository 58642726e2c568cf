"""Shared fixtures: gpiozero's MockFactory, a manual pyo server, a real mosquitto broker."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

import station.sound  # noqa: F401  (sets pyo's environment before pyo is imported)

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "config"


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    """A fresh MockFactory; the station passes it to devices, so the global stays untouched
    except that gpiozero needs one installed to build devices without an explicit factory."""
    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def pyo_server() -> Iterator[Any]:
    """A booted, started pyo server in manual mode: time advances only by `process()`."""
    import pyo

    server = pyo.Server(audio="manual", nchnls=2, sr=48000, buffersize=64, duplex=0)
    server.deactivateMidi()
    server.boot()
    server.start()
    yield server
    server.stop()
    server.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mosquitto:
    """A real mosquitto broker on a free localhost port with its own config file."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            pytest.fail("mosquitto is not installed: run 'make test' (it installs it as root) "
                        "or 'apt-get install mosquitto mosquitto-clients'")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            # Run as whoever runs the tests: as root, mosquitto would otherwise switch to its
            # own user, which cannot write the test's folder.
            f"user {getpass.getuser()}\n"
            # Persistent sessions survive a broker restart, as on a production broker.
            f"persistence true\npersistence_location {folder}/\n"
            # A dashboard's broker keeps more than mosquitto's default 1000 messages for a
            # session that is away (docs/dashboard.md): a subscriber that reconnects after the
            # station's agent must not find its messages dropped.
            "max_queued_messages 100000\n"
            f"log_dest file {folder / 'mosquitto.log'}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        log = (self.folder / "mosquitto.log").read_text() if (
            self.folder / "mosquitto.log").exists() else ""
        pytest.fail(f"mosquitto did not start on port {self.port}: {log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    folder = tmp_path / "mosquitto"
    folder.mkdir()
    broker = Mosquitto(folder)
    broker.start()
    yield broker
    broker.stop()


class Subscriber:
    """A paho client that collects messages and lets a test wait for the one it expects."""

    def __init__(self, port: int, topics: list[str], client_id: str = "") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._arrived = threading.Condition()
        self._subscribed = threading.Event()
        # With a client id the broker keeps the session (and queues QoS 1 messages for it)
        # while the subscriber or the broker is away, as a dashboard's would.
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not client_id
        )
        self.client.on_connect = lambda client, *_: client.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test subscriber could not subscribe"

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._arrived:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self._arrived.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> Any:
        """The first message (topic, payload) for which `predicate` is true, waiting for it."""
        def find() -> Any:
            for topic, payload, _ in self.messages:
                if predicate(topic, payload):
                    return topic, payload
            return None

        with self._arrived:
            found = self._arrived.wait_for(find, timeout)
        assert found, f"no matching message within {timeout} s; got {self.messages[-10:]}"
        return found

    def events(self, topic: str) -> list[dict[str, Any]]:
        """The JSON payloads that arrived on `topic`, in order."""
        with self._arrived:  # reentrant: also called under wait_for_events' lock
            return [json.loads(payload) for t, payload, _ in self.messages if t == topic]

    def wait_for_events(self, topic: str, predicate: Any, timeout: float = 20.0) -> list[Any]:
        """The events on `topic` once `predicate(events)` holds, waiting for it."""
        with self._arrived:
            ok = self._arrived.wait_for(lambda: predicate(self.events(topic)), timeout)
            events = self.events(topic)
        assert ok, f"events on {topic} did not arrive within {timeout} s; got {len(events)}"
        return events

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber_factory() -> Iterator[Any]:
    made: list[Subscriber] = []

    def make(port: int, topics: list[str], client_id: str = "") -> Subscriber:
        subscriber = Subscriber(port, topics, client_id)
        made.append(subscriber)
        return subscriber

    yield make
    for subscriber in made:
        subscriber.close()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped config folder (resolved, as the loader reports paths)."""
    target = tmp_path.resolve() / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


def edit(file: Path, old: str, new: str) -> Path:
    """Replace the one occurrence of `old` in `file`, as a therapist would in an editor."""
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should appear exactly once in {file.name}"
    file.write_text(text.replace(old, new), encoding="utf-8")
    return file


@pytest.fixture
def station_config(tmp_path: Path) -> Any:
    """A copy of the shipped config in tmp_path, edited by `edits` ({'section.key': value})."""
    import tomllib

    import tomli_w

    def make(edits: dict[str, Any] | None = None) -> Path:
        folder = tmp_path / "config"
        if not folder.exists():
            shutil.copytree(SHIPPED_CONFIG, folder)
        path = folder / "station.toml"
        data = tomllib.loads(path.read_text())
        data["station"]["data_dir"] = str(tmp_path / "data")
        for dotted, value in (edits or {}).items():
            section, key = dotted.split(".")
            data.setdefault(section, {})[key] = value
        path.write_text(tomli_w.dumps(data))
        return path

    return make


@pytest.fixture
def agent_station(station_config: Any, mosquitto: Any) -> Any:
    """A copy of the shipped station whose agent delivers to the fixture's mosquitto."""
    from station.config import load_station

    return load_station(station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port}))


@pytest.fixture
def running_agent(agent_station: Any) -> Iterator[Any]:
    """The real TelemetryAgent of `agent_station`, running on a thread of its own."""
    from station.telemetry.agent import TelemetryAgent

    agent = TelemetryAgent(agent_station)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    yield agent
    agent.stopping.set()
    thread.join(10)
