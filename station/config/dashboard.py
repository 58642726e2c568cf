"""The dashboard's settings: a ``[dashboard]`` table of the station file, or a dashboard file.

Two ways to run the dashboard, one set of settings:

* **A single-room Pi**: the station file's optional ``[dashboard]`` table. With
  ``enabled = true``, ``station run`` starts ``station dashboard`` beside the engine and the
  agent. Ingest uses the station's own ``[mqtt]`` broker, TLS and topic root, logging in as
  ``mqtt_username`` / ``mqtt_password`` (the ACL's ``dashboard`` login), and keeps its
  database in the station's ``data_dir``.
* **A clinic's central dashboard**: a dashboard file (``dashboard.toml``) with only what the
  dashboard needs: ``[dashboard]`` (with its own ``data_dir``) and ``[mqtt]`` (the central
  broker). ``station dashboard --config dashboard.toml`` runs it.

`load_dashboard` reads either kind (a file with ``[station]`` or ``[[inputs]]`` is a station
file) and returns a `DashboardConfig` with every path resolved.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from station.config.problems import Problem
from station.config.schema import Schema

DATABASE_PREFIXES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")
DEFAULT_PORT = 8080
SOURCE_ASSETS_DIR = Path(__file__).resolve().parents[2] / "build" / "npm"
"""Where ``scripts/fetch-npm-assets.sh`` puts the npm packages in a source checkout."""
INSTALLED_ASSETS_DIR = Path(sys.prefix) / "share" / "sensory-station" / "npm"
"""Where ``scripts/install-pi.sh`` puts them: inside the virtualenv the station runs from."""


def default_assets_dir() -> Path:
    """``assets_dir = ""``: the source checkout's build/npm when there is one (development,
    tests), else the installed virtualenv's folder."""
    return SOURCE_ASSETS_DIR if SOURCE_ASSETS_DIR.is_dir() else INSTALLED_ASSETS_DIR


class DashboardSection(Schema):
    """What every dashboard has, wherever its settings live."""

    # An IP address: 127.0.0.1 serves this machine only (the default); 0.0.0.0 every network.
    listen: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    # "" keeps a SQLite file, <data_dir>/dashboard.sqlite3; a clinic names PostgreSQL.
    database_url: SecretStr = SecretStr("")
    # Made (mode 0600) at the first start when missing; "" is <data_dir>/dashboard-secret.key.
    secret_key_file: str = ""
    # Events, notes and audit entries older than this many days are deleted (0 keeps them).
    retention_days: float = Field(default=365.0, ge=0.0, le=36500.0)
    # Failed sign-ins allowed per account and per network address within the window.
    login_attempts_per_account: int = Field(default=5, ge=1, le=1000)
    login_attempts_per_address: int = Field(default=20, ge=1, le=10000)
    login_window_minutes: float = Field(default=15.0, gt=0.0, le=1440.0)
    # A login lasts this many hours without use (default 12).
    session_hours: float = Field(default=12.0, gt=0.0, le=720.0)
    # HTTPS served by the dashboard itself: a certificate and its key (both or neither).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # The folder scripts/fetch-npm-assets.sh fetched the charts library (uPlot) into;
    # "" is build/npm of a source checkout, else <virtualenv>/share/sensory-station/npm
    # (where install-pi.sh puts it). Without it the pages show tables and no charts.
    assets_dir: str = ""


class StationDashboardSection(DashboardSection):
    """The station file's ``[dashboard]``: the dashboard of this room, on this Pi."""

    # true: `station run` starts the dashboard beside the engine and the agent.
    enabled: bool = False
    # The dashboard's own login at the station's broker (the ACL's `dashboard` user).
    mqtt_username: str = ""
    mqtt_password: SecretStr = SecretStr("")


class DashboardFileSection(DashboardSection):
    """A dashboard file's ``[dashboard]``: a central dashboard, with a folder of its own."""

    # The database, the secret key; relative to the dashboard file.
    data_dir: str = "data"


class DashboardMqttSection(Schema):
    """A dashboard file's ``[mqtt]``: the broker every station's messages come through."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    topic_root: str = Field(default="sensory/v1", pattern=r"^[A-Za-z0-9_/-]+$")
    protocol: Literal["5", "3.1.1"] = "5"
    # Ingest's own connection: 3.1.1, because paho reads the properties of every MQTT 5
    # message in Python, a third of the ingest process's time; it needs nothing of MQTT 5.
    ingest_protocol: Literal["5", "3.1.1"] = "3.1.1"
    # The broker keeps the dashboard's session (and queues for it) under this id.
    client_id: str = Field(default="sensory-dashboard", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


class DashboardFile(Schema):
    """A whole dashboard file."""

    dashboard: DashboardFileSection = DashboardFileSection()
    mqtt: DashboardMqttSection = DashboardMqttSection()


@dataclass(frozen=True)
class BrokerSettings:
    """Where ingest finds the broker, resolved (paths absolute)."""

    host: str
    port: int
    topic_root: str
    username: str = ""
    password: str = ""
    protocol: str = "5"
    ingest_protocol: str = "3.1.1"
    client_id: str = "sensory-dashboard"
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class DashboardConfig:
    """Everything `station dashboard` needs, resolved from either kind of file."""

    path: Path
    """The file it came from."""
    listen: str
    port: int
    database_url: str
    secret_key_file: Path
    retention_days: float
    login_attempts_per_account: int
    login_attempts_per_address: int
    login_window_minutes: float
    session_hours: float
    broker: BrokerSettings
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    assets_dir: Path = field(default_factory=default_assets_dir)
    """The npm packages' folder (``uplot-<version>/`` in it)."""
    started_by_station: bool = False
    """A station file whose ``[dashboard]`` says ``enabled = true``."""


def resolve(
    path: Path, section: DashboardSection, data_dir: Path, broker: BrokerSettings,
    started_by_station: bool = False,
) -> DashboardConfig:
    """The settings of `section` (from the file at `path`), paths relative to that file."""
    def file(value: str) -> Path | None:
        return (path.parent / Path(value).expanduser()).resolve() if value else None

    url = section.database_url.get_secret_value() or (
        f"sqlite:///{data_dir / 'dashboard.sqlite3'}")
    return DashboardConfig(
        path=path, listen=section.listen, port=section.port, database_url=url,
        secret_key_file=file(section.secret_key_file) or data_dir / "dashboard-secret.key",
        retention_days=section.retention_days,
        login_attempts_per_account=section.login_attempts_per_account,
        login_attempts_per_address=section.login_attempts_per_address,
        login_window_minutes=section.login_window_minutes,
        session_hours=section.session_hours, broker=broker,
        tls_cert_file=file(section.tls_cert_file), tls_key_file=file(section.tls_key_file),
        assets_dir=file(section.assets_dir) or default_assets_dir(),
        started_by_station=started_by_station,
    )


def hidden_url(url: str) -> str:
    """`url` with its password (``user:password@``) shown as ``********``."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:********@", url)


def check_dashboard_section(
    path: Path, table: str, section: DashboardSection, problems: list[Problem]
) -> None:
    """Add what is wrong in a validated ``[dashboard]`` table to `problems`."""
    try:
        ipaddress.ip_address(section.listen)
    except ValueError:
        problems.append(Problem(
            path, f"{table}.listen",
            f"{section.listen!r} is not an IP address; use 127.0.0.1 (this machine only) or "
            "0.0.0.0 (every network: put TLS in front of it, see docs/dashboard.md)",
        ))
    url = section.database_url.get_secret_value()
    if url and not url.startswith(DATABASE_PREFIXES):
        problems.append(Problem(
            path, f"{table}.database_url",
            f"{hidden_url(url)!r} is no database the dashboard can use; use "
            "sqlite:///path/to/dashboard.sqlite3 or "
            "postgresql+psycopg://user:password@host/dbname, or \"\" for SQLite in the data "
            "folder",
        ))
    check_files(path, table, {"tls_cert_file": section.tls_cert_file,
                              "tls_key_file": section.tls_key_file}, problems)
    if bool(section.tls_cert_file) != bool(section.tls_key_file):
        problems.append(Problem(path, f"{table}.tls_cert_file and {table}.tls_key_file",
                                "give both or neither"))
    assets = section.assets_dir
    if assets and not (path.parent / Path(assets).expanduser()).is_dir():
        problems.append(Problem(
            path, f"{table}.assets_dir",
            f"folder not found: {assets!r} (relative to {path.parent}); fetch the charts into "
            f"it with scripts/fetch-npm-assets.sh {assets} uplot, or use \"\" for where "
            "install-pi.sh puts them",
        ))


def check_files(
    path: Path, table: str, files: dict[str, str], problems: list[Problem]
) -> None:
    """Each non-empty file of `files` (key: value) exists, relative to `path`'s folder."""
    for key, value in files.items():
        if value and not (path.parent / Path(value).expanduser()).is_file():
            problems.append(Problem(
                path, f"{table}.{key}", f"file not found: {value!r} (relative to {path.parent})"
            ))


def check_dashboard_file(path: Path, config: DashboardFile, problems: list[Problem]) -> None:
    """Add what is wrong in a validated dashboard file to `problems`."""
    check_dashboard_section(path, "dashboard", config.dashboard, problems)
    mqtt = config.mqtt
    check_files(path, "mqtt", {"ca_file": mqtt.ca_file, "cert_file": mqtt.cert_file,
                               "key_file": mqtt.key_file}, problems)
    if bool(mqtt.cert_file) != bool(mqtt.key_file):
        problems.append(Problem(path, "mqtt.cert_file and mqtt.key_file", "give both or neither"))


def file_broker(path: Path, mqtt: DashboardMqttSection) -> BrokerSettings:
    """The broker of a dashboard file's ``[mqtt]``."""
    def file(value: str) -> Path | None:
        return (path.parent / Path(value).expanduser()).resolve() if value else None

    return BrokerSettings(
        host=mqtt.host, port=mqtt.port, topic_root=mqtt.topic_root, username=mqtt.username,
        password=mqtt.password.get_secret_value(), protocol=mqtt.protocol,
        ingest_protocol=mqtt.ingest_protocol, client_id=mqtt.client_id,
        tls=mqtt.tls or bool(mqtt.ca_file or mqtt.cert_file),
        ca_file=file(mqtt.ca_file), cert_file=file(mqtt.cert_file), key_file=file(mqtt.key_file),
    )


def is_station_file(raw: dict[str, object]) -> bool:
    """A file with ``[station]`` or ``[[inputs]]`` is a station file, else a dashboard file."""
    return "station" in raw or "inputs" in raw


SECRET_KEYS: Sequence[tuple[str, str]] = (
    ("dashboard", "database_url"), ("dashboard", "mqtt_password"), ("mqtt", "password"))
