"""Real databases for the dashboard's tests: a SQLite file, and a PostgreSQL server from
Debian's package started for the test run."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.bench._postgres import PostgresServer, PostgresUnavailable
from station.dashboard.ingest import Ingest, IngestSettings
from station.dashboard.store import Store

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run; each test takes a database of its own."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dashboard.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The dashboard's store on each backend, migrated to the newest schema."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """`condition()`'s first true value, asking every 50 ms for at most `timeout` seconds."""
    pause = threading.Event()
    value = condition()
    for _ in range(int(timeout / 0.05)):
        if value:
            return value
        pause.wait(0.05)
        value = condition()
    assert value, f"{what or 'the condition'} did not hold within {timeout} s"
    return value


class Publisher:
    """A paho client, as any publisher on the broker: QoS 1, each publish acknowledged."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str | dict[str, Any],
                retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), f"the broker did not acknowledge {topic}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto: Any) -> Iterator[Publisher]:
    made = Publisher(mosquitto.port)
    yield made
    made.close()


@pytest.fixture
def ingest_factory(mosquitto: Any) -> Iterator[Callable[..., Ingest]]:
    """Start an `Ingest` on the fixture broker: `make(store, **settings)`, subscribed."""
    made: list[Ingest] = []

    def make(store: Store, **settings: Any) -> Ingest:
        ingest = Ingest(store, IngestSettings(host="127.0.0.1", port=mosquitto.port,
                                              **settings))
        made.append(ingest)
        ingest.start()
        assert ingest.subscribed.wait(10), "ingest did not subscribe within 10 s"
        return ingest

    yield make
    for ingest in made:
        ingest.stop()


@pytest.fixture
def dashboard_server(mosquitto: Any, tmp_path: Path) -> Iterator[Any]:
    """A real `station dashboard` on the fixture broker, with the users of `served.USERS`."""
    from tests.dashboard.served import DashboardServer

    folder = tmp_path / "dashboard"
    folder.mkdir()
    server = DashboardServer(folder, mosquitto.port)
    server.add_users()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_station(station_config: Any, mosquitto: Any) -> Iterator[Any]:
    """`station run --simulate` publishing to the fixture broker, aggregates every second."""
    from tests.telemetry.conftest import StationProcess

    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "null", "telemetry.aggregate_seconds": 1.0})
    station = StationProcess(["run", "--simulate", "--config", str(path)])
    station.start()
    yield station
    if station.running:
        station.stop()


from tests.dashboard.browser import axe_source, chromium  # noqa: E402, F401  (fixtures)
