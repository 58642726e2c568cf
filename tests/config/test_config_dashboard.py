"""The dashboard's settings: a station file's ``[dashboard]`` or a dashboard file, each problem
asserted by its exact text."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import check_files, effective_config, load_dashboard, load_station
from station.errors import ConfigError
from tests.conftest import edit

DATABASE_HELP = (
    "is no database the dashboard can use; use sqlite:///path/to/dashboard.sqlite3 or "
    "postgresql+psycopg://user:password@host/dbname, or \"\" for SQLite in the data folder"
)
LISTEN_HELP = (
    "is not an IP address; use 127.0.0.1 (this machine only) or 0.0.0.0 (every network: put "
    "TLS in front of it, see docs/dashboard.md)"
)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_dashboard(path)
    return caught.value.problems


def test_the_shipped_station_file_gives_a_dashboard_on_localhost_with_sqlite(
    config_dir: Path,
) -> None:
    config = load_dashboard(config_dir / "station.toml")
    data = (config_dir.parent / "data").resolve()
    assert (config.listen, config.port, config.started_by_station) == ("127.0.0.1", 8080, False)
    assert config.database_url == f"sqlite:///{data / 'dashboard.sqlite3'}"
    assert config.secret_key_file == data / "dashboard-secret.key"
    # The embedded broker of a station file without an MQTT host speaks 3.1.1 only.
    assert (config.broker.host, config.broker.port, config.broker.protocol) == (
        "127.0.0.1", 1883, "3.1.1")
    assert (config.login_attempts_per_account, config.login_attempts_per_address,
            config.login_window_minutes, config.retention_days) == (5, 20, 15.0, 365.0)


def test_the_shipped_dashboard_file_names_only_what_the_dashboard_needs(
    config_dir: Path,
) -> None:
    config = load_dashboard(config_dir / "dashboard.toml")
    data = (config_dir.parent / "data" / "dashboard").resolve()
    assert config.database_url == f"sqlite:///{data / 'dashboard.sqlite3'}"
    assert (config.broker.host, config.broker.protocol, config.broker.client_id) == (
        "127.0.0.1", "5", "sensory-dashboard")
    assert check_files([config_dir / "dashboard.toml"]) == []


def test_a_station_file_takes_its_broker_and_the_dashboards_own_login(
    config_dir: Path,
) -> None:
    station = config_dir / "station.toml"
    edit(station, 'host = ""', 'host = "broker.local"')
    edit(station, "enabled = false", "enabled = true")
    edit(station, "port = 8080", 'port = 8080\nmqtt_username = "dashboard"\n'
         'mqtt_password = "s3cret"')
    config = load_dashboard(station)
    assert config.started_by_station
    assert (config.broker.host, config.broker.protocol, config.broker.username,
            config.broker.password) == ("broker.local", "5", "dashboard", "s3cret")
    shown = effective_config(load_station(station))["dashboard"]
    assert shown["mqtt_password"] == "********" and shown["database_url"] == ""


@pytest.mark.parametrize(("old", "new", "problem"), [
    pytest.param('listen = "127.0.0.1"', 'listen = "localhost"',
                 f"dashboard.listen: 'localhost' {LISTEN_HELP}", id="listen"),
    pytest.param("port = 8080", "port = 80800",
                 "dashboard.port: Input should be less than or equal to 65535; got 80800",
                 id="port"),
    pytest.param('database_url = ""', 'database_url = "mysql://me:secret@db/dashboard"',
                 f"dashboard.database_url: 'mysql://me:********@db/dashboard' {DATABASE_HELP}",
                 id="database"),
    pytest.param("login_attempts_per_account = 5", "login_attempts_per_account = 0",
                 "dashboard.login_attempts_per_account: Input should be greater than or equal "
                 "to 1; got 0", id="attempts"),
    pytest.param("retention_days = 365", "retention_days = -1",
                 "dashboard.retention_days: Input should be greater than or equal to 0; got -1",
                 id="retention"),
    pytest.param('tls_cert_file = ""', 'tls_cert_file = "certs/dashboard.crt"',
                 "dashboard.tls_cert_file: file not found: 'certs/dashboard.crt' (relative to "
                 "{folder})", id="certificate"),
    pytest.param('assets_dir = ""', 'assets_dir = "npm"',
                 "dashboard.assets_dir: folder not found: 'npm' (relative to {folder}); fetch "
                 "the charts into it with scripts/fetch-npm-assets.sh npm uplot, or use \"\" "
                 "for where install-pi.sh puts them", id="assets"),
    pytest.param('protocol = "5"', 'protocol = "4"',
                 "mqtt.protocol: '4' is not allowed; allowed: 5, 3.1.1", id="protocol"),
    pytest.param("session_hours = 12", "session_hourz = 12",
                 "dashboard.session_hourz: unknown key; did you mean 'session_hours'? (allowed: "
                 "listen, port, database_url, secret_key_file, retention_days, "
                 "login_attempts_per_account, login_attempts_per_address, "
                 "login_window_minutes, session_hours, tls_cert_file, tls_key_file, assets_dir, "
                 "data_dir)",
                 id="unknown-key"),
])
def test_a_dashboard_file_problem_names_file_key_value_and_what_is_allowed(
    config_dir: Path, old: str, new: str, problem: str
) -> None:
    path = edit(config_dir / "dashboard.toml", old, new)
    problem = problem.format(folder=config_dir)
    expected = [f"{path}: {problem}"]
    if "tls_cert_file" in new:
        expected.append(f"{path}: dashboard.tls_cert_file and dashboard.tls_key_file: "
                        "give both or neither")
    assert problems_of(path) == expected
    assert [str(p) for p in check_files([path])] == expected


def test_a_station_files_dashboard_table_is_checked_with_the_station_file(
    config_dir: Path,
) -> None:
    station = edit(config_dir / "station.toml", 'listen = "127.0.0.1"', 'listen = "my-pi"')
    edit(station, "enabled = false", 'enabled = "yes"')
    expected = [
        f"{station}: dashboard.enabled: Input should be a valid boolean; got 'yes'",
    ]
    assert problems_of(station) == expected
    edit(station, 'enabled = "yes"', "enabled = true")
    assert problems_of(station) == [f"{station}: dashboard.listen: 'my-pi' {LISTEN_HELP}"]
