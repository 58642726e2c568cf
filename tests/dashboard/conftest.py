"""Real databases for the dashboard's tests: a SQLite file, and a PostgreSQL server from
Debian's package started for the test run."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.dashboard.ingest import Ingest, IngestSettings
from station.dashboard.store import Store
from tests.conftest import free_port

BACKENDS = ["sqlite", "postgresql"]


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parts[4]))
    if not found:
        pytest.fail("PostgreSQL is not installed: run 'make test' (it installs it as root) "
                    "or 'apt-get install postgresql'")
    return Path(found[-1]).parent


class PostgresServer:
    """A throw-away PostgreSQL cluster: its own folder, a free localhost port, its socket in
    that folder, no fsync. PostgreSQL refuses to run as root, so as root the server runs as
    the `postgres` user that Debian's package creates (`runuser`)."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="dashboard-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = "dashboard"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as, *command], capture_output=True, text=True,
                                timeout=120, cwd=self.folder)
        if result.returncode != 0:
            log = self.folder / "server.log"
            pytest.fail(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
                        + (log.read_text() if log.exists() else ""))

    def start(self) -> None:
        """Start the server (making its cluster the first time)."""
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "--pgdata", str(self.data), "--username",
                      self.user, "--auth", "trust", "--encoding", "UTF8", "--no-sync",
                      "--no-instructions")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "--wait",
                  "--timeout", "60", "--log", str(self.folder / "server.log"),
                  "--options", options, "start")

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut, as in an outage)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "--wait",
                      "--mode", "fast", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} "
                             "dbname=postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run; each test takes a database of its own."""
    server = PostgresServer()
    try:
        server.start()
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


from tests.dashboard.browser import axe_source, chromium  # noqa: E402, F401  (fixtures)
