"""`station dashboard` as a process: systemd's notify protocol and watchdog, health in words,
users from the shell, and `station run` starting it beside the station."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from station.config import load_station
from station.supervisor import station_children
from tests.conftest import edit
from tests.dashboard.conftest import wait_until
from tests.dashboard.served import PASSWORD, DashboardServer


def test_it_tells_systemd_it_is_ready_feeds_the_watchdog_and_stops_cleanly(
    mosquitto: Any, tmp_path: Path
) -> None:
    notify = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(notify))
        listener.settimeout(30)
        server = DashboardServer(tmp_path, mosquitto.port)
        server.process.environment.update(NOTIFY_SOCKET=str(notify), WATCHDOG_USEC="2000000")
        server.start()
        try:
            ready = listener.recv(4096).decode()
            assert ready == f"READY=1\nSTATUS=serving {server.url}/"
            assert listener.recv(4096) == b"WATCHDOG=1"
            body = server.wait_healthy()
            assert body["broker"]["ok"] and body["database"]["ok"] and body["problems"] == []
            assert (server.folder / "data" / "dashboard-secret.key").stat().st_mode & 0o777 == (
                0o600)
        finally:
            assert server.stop() == 0, server.process.log
        listener.setblocking(False)
        said = []
        while True:
            try:
                said.append(listener.recv(4096))
            except BlockingIOError:
                break
        assert said[-1] == b"STOPPING=1" and set(said[:-1]) <= {b"WATCHDOG=1"}


def test_without_the_broker_health_says_what_is_wrong_and_pages_still_answer(
    mosquitto: Any, tmp_path: Path
) -> None:
    server = DashboardServer(tmp_path, mosquitto.port)
    server.start()
    try:
        server.wait_healthy()
        mosquitto.stop()
        _, body = wait_until(lambda: (lambda got: got if got[0] == 503 else None)(
            server.health()), 20, "health saying the broker is lost")
        assert body["problems"][0].startswith(
            f"the MQTT broker at 127.0.0.1:{mosquitto.port} cannot be reached: lost the "
            "connection")
        import urllib.request

        with urllib.request.urlopen(f"{server.url}/login", timeout=5) as page:
            text = page.read().decode()
        assert "No live data since" in text and "cannot be reached" in text
        mosquitto.start()
        assert server.wait_healthy(30)["broker"]["ok"]
    finally:
        server.stop()


def test_users_are_added_and_assigned_from_the_shell_with_the_password_on_stdin(
    mosquitto: Any, tmp_path: Path
) -> None:
    server = DashboardServer(tmp_path, mosquitto.port)
    made = server.station("add-user", "anna", "--role", "therapist", stdin=PASSWORD + "\n")
    assert (made.returncode, made.stdout) == (0, "added anna (therapist)\n"), made.stderr
    short = server.station("add-user", "ben", "--role", "staff", stdin="short\n")
    assert short.returncode == 1
    assert ("station: the password has 5 characters; use at least 10 (a few words in a row are "
            "easy to remember)") in short.stderr
    on_the_line = server.station("add-user", "cy", "--role", "staff", "--password", "x" * 12)
    assert on_the_line.returncode == 2 and "unrecognized arguments" in on_the_line.stderr
    assert server.station("assign", "anna", "C-7F3K").stdout == "C-7F3K assigned to anna\n"
    wrong = server.station("assign", "anna", "Anna Smith")
    assert wrong.returncode == 1 and "'Anna Smith' is not a client pseudonym" in wrong.stderr
    assert server.station("users").stdout == "anna\ttherapist\tC-7F3K\n"


def test_station_run_starts_the_dashboard_when_the_station_file_enables_it(
    config_dir: Path,
) -> None:
    station = config_dir / "station.toml"
    names = [child.name for child in station_children(load_station(station), station, [])]
    assert names == ["embedded broker", "engine", "telemetry agent"]
    edit(station, "enabled = false", "enabled = true")
    children = station_children(load_station(station), station, ["mqtt.port=1884"])
    assert children[-1].name == "dashboard"
    assert children[-1].arguments == ["dashboard", "serve", "--config", str(station.resolve()),
                                      "--set", "mqtt.port=1884"]


def test_with_postgresql_down_every_page_answers_and_says_why_then_recovers(
    mosquitto: Any, tmp_path: Path, postgres: Any,
) -> None:
    import urllib.error
    import urllib.request

    url = postgres.create_database()
    server = DashboardServer(tmp_path, mosquitto.port, database_url=url)
    server.add_users({"sam": ("staff", [])})
    server.start()
    try:
        server.wait_healthy()
        postgres.stop()
        status, body = server.health()
        assert status == 503 and body["database"]["ok"] is False
        assert body["problems"][0].startswith("the database cannot be reached: ")
        for path in ("/login", "/rooms"):
            request = urllib.request.Request(f"{server.url}{path}",
                                             headers={"Accept": "text/html"})
            request.add_header("Cookie", "sensory_session=some-sign-in")
            try:
                with urllib.request.urlopen(request, timeout=10) as page:
                    status, text = page.status, page.read().decode()
            except urllib.error.HTTPError as error:
                status, text = error.code, error.read().decode()
            assert status in (200, 503), path
            if path == "/rooms":
                assert status == 503
                assert "cannot be reached" in text and "comes back by itself" in text
    finally:
        postgres.start()
    try:
        assert server.wait_healthy(30)["database"]["ok"]
    finally:
        server.stop()
