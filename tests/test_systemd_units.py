"""The systemd units and the mosquitto snippet in systemd/.

The directives are read from the files themselves; `systemd-analyze verify` then judges
syntax and directive names, and a real mosquitto loads the snippet and enforces the ACL.
"""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEMD_DIR = REPO_ROOT / "systemd"
ENGINE_UNIT = SYSTEMD_DIR / "sensory-station-engine.service"
TELEMETRY_UNIT = SYSTEMD_DIR / "sensory-station-telemetry.service"
DASHBOARD_UNIT = SYSTEMD_DIR / "sensory-dashboard.service"
JACKD_UNIT = SYSTEMD_DIR / "sensory-station-jackd.service"
STATION_TARGET = SYSTEMD_DIR / "sensory-station.target"
MOSQUITTO_SNIPPET = SYSTEMD_DIR / "mosquitto-sensory-station.conf"
MOSQUITTO_ACL = SYSTEMD_DIR / "mosquitto-sensory-station.acl"

INSTALLED_STATION = "/opt/sensory-station/venv/bin/station"
INSTALLED_CONFIG = "/etc/sensory-station/station.toml"

UnitFile = dict[str, dict[str, list[str]]]


def parse_unit(path: Path) -> UnitFile:
    """Sections -> directive -> every value given, in order (systemd allows repeats)."""
    sections: UnitFile = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw_line.strip()
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: directive before any section: {line!r}"
        key, separator, value = line.partition("=")
        assert separator, f"{path.name}: not a KEY=VALUE line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def single_value(unit: UnitFile, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key, [])
    assert len(values) == 1, f"expected exactly one {key}= in [{section}], found {values}"
    return values[0]


def words(unit: UnitFile, section: str, key: str) -> list[str]:
    """All space-separated items of a list directive such as After= or Wants=."""
    return [item for value in unit.get(section, {}).get(key, []) for item in value.split()]


def station_service_files() -> list[Path]:
    return sorted(SYSTEMD_DIR.glob("*.service"))


def station_unit_files() -> list[Path]:
    return sorted([*SYSTEMD_DIR.glob("*.service"), *SYSTEMD_DIR.glob("*.target")])


# --- directives ----------------------------------------------------------------------------


def test_the_four_services_exist() -> None:
    assert [path.name for path in station_service_files()] == [
        DASHBOARD_UNIT.name,
        ENGINE_UNIT.name,
        JACKD_UNIT.name,
        TELEMETRY_UNIT.name,
    ]


def test_jack_runs_on_the_sound_device_for_the_engine() -> None:
    """The audio path the latency benchmark measures: JACK at 48 kHz, small periods, real
    time, as the engine's own user (a JACK server serves its own user's clients)."""
    unit = parse_unit(JACKD_UNIT)
    assert single_value(unit, "Service", "User") == single_value(
        parse_unit(ENGINE_UNIT), "Service", "User")
    assert "audio" in words(unit, "Service", "SupplementaryGroups")
    defaults = dict(item.split("=", 1) for item in words(unit, "Service", "Environment"))
    assert defaults["JACK_RATE"] == "48000"
    assert defaults["JACK_PERIOD"] in {"64", "128"}
    assert defaults["JACK_NO_AUDIO_RESERVATION"] == "1"
    assert single_value(unit, "Service", "EnvironmentFile") == "-/etc/sensory-station/jackd.env"
    command = single_value(unit, "Service", "ExecStart").split()
    assert command[:2] == ["/usr/bin/jackd", "--realtime"]
    assert command[command.index("-d"):command.index("-d") + 2] == ["-d", "alsa"]
    assert {"-P", "${JACK_DEVICE}", "${JACK_PERIOD}", "${JACK_RATE}"} <= set(command)
    assert single_value(unit, "Service", "LimitRTPRIO") == "95"
    assert "sensory-station.target" in words(unit, "Unit", "PartOf")
    engine = parse_unit(ENGINE_UNIT)
    assert JACKD_UNIT.name in words(engine, "Unit", "After")
    # Wants, not Requires: a room whose card JACK cannot open still plays through PortAudio.
    assert JACKD_UNIT.name in words(engine, "Unit", "Wants")
    assert "Requires" not in engine["Unit"]


@pytest.mark.parametrize("unit_path", [ENGINE_UNIT, TELEMETRY_UNIT], ids=lambda p: p.stem)
def test_service_runs_supervised_as_its_own_user(unit_path: Path) -> None:
    unit = parse_unit(unit_path)
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "10",
        "Restart": "on-failure",
        "RestartSec": "2",
        "User": "sensory-station",
        "Group": "sensory-station",
        "StateDirectory": "sensory-station",
        "WorkingDirectory": "/var/lib/sensory-station",
    }
    actual = {key: single_value(unit, "Service", key) for key in expected}
    assert actual == expected
    assert "PYTHONUNBUFFERED=1" in words(unit, "Service", "Environment")
    assert words(unit, "Install", "WantedBy") == ["multi-user.target"]
    assert "sensory-station.target" in words(unit, "Unit", "PartOf")


def test_dashboard_runs_supervised_as_a_user_of_its_own() -> None:
    unit = parse_unit(DASHBOARD_UNIT)
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "10",
        "Restart": "on-failure",
        "RestartSec": "2",
        "User": "sensory-dashboard",
        "Group": "sensory-dashboard",
        "StateDirectory": "sensory-dashboard",
        "StateDirectoryMode": "0750",
        "WorkingDirectory": "/var/lib/sensory-dashboard",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "full",
        "ProtectHome": "yes",
    }
    assert {key: single_value(unit, "Service", key) for key in expected} == expected
    assert "PYTHONUNBUFFERED=1" in words(unit, "Service", "Environment")
    assert "SupplementaryGroups" not in unit["Service"]
    assert words(unit, "Install", "WantedBy") == ["multi-user.target"]
    assert "network-online.target" in words(unit, "Unit", "After")
    # Not part of the station's target: a clinic's dashboard runs where no station does.
    assert "PartOf" not in unit["Unit"]


def test_dashboard_command_line() -> None:
    exec_start = single_value(parse_unit(DASHBOARD_UNIT), "Service", "ExecStart")
    assert exec_start.split() == [INSTALLED_STATION, "dashboard", "--config",
                                  "/etc/sensory-station/dashboard.toml"]


def test_engine_command_line() -> None:
    exec_start = single_value(parse_unit(ENGINE_UNIT), "Service", "ExecStart")
    assert exec_start.split() == [INSTALLED_STATION, "engine", "--config", INSTALLED_CONFIG]


def test_telemetry_command_line() -> None:
    exec_start = single_value(parse_unit(TELEMETRY_UNIT), "Service", "ExecStart")
    assert exec_start.split() == [INSTALLED_STATION, "agent", "--config", INSTALLED_CONFIG]


def test_engine_gets_gpio_audio_and_realtime_limits() -> None:
    unit = parse_unit(ENGINE_UNIT)
    assert {"gpio", "audio"} <= set(words(unit, "Service", "SupplementaryGroups"))
    assert single_value(unit, "Service", "LimitRTPRIO") == "95"
    assert single_value(unit, "Service", "LimitMEMLOCK") == "infinity"


def test_engine_waits_for_sound_but_not_for_the_network() -> None:
    unit = parse_unit(ENGINE_UNIT)
    assert "sound.target" in words(unit, "Unit", "After")
    assert "network-online.target" not in words(unit, "Unit", "After")
    assert "network-online.target" not in words(unit, "Unit", "Wants")


def test_the_engine_comes_before_the_agent_on_a_busy_pi() -> None:
    assert int(single_value(parse_unit(ENGINE_UNIT), "Service", "Nice")) < 0
    assert int(single_value(parse_unit(TELEMETRY_UNIT), "Service", "Nice")) > 0
    # On a single-room Pi the dashboard runs beside the engine: its pages wait, not the audio.
    assert int(single_value(parse_unit(DASHBOARD_UNIT), "Service", "Nice")) > 0


def test_telemetry_has_no_device_groups() -> None:
    assert "SupplementaryGroups" not in parse_unit(TELEMETRY_UNIT)["Service"]


def test_telemetry_waits_for_the_network() -> None:
    unit = parse_unit(TELEMETRY_UNIT)
    assert "network-online.target" in words(unit, "Unit", "After")
    assert "network-online.target" in words(unit, "Unit", "Wants")


def test_target_wants_every_service_of_the_station() -> None:
    target = parse_unit(STATION_TARGET)
    assert set(words(target, "Unit", "Wants")) == {
        p.name for p in station_service_files() if p != DASHBOARD_UNIT}
    assert words(target, "Install", "WantedBy") == ["multi-user.target"]


# --- systemd-analyze verify ----------------------------------------------------------------

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)

MINIMAL_VALID_SERVICE = """\
[Unit]
Description=control unit for the verify tests

[Service]
Type=oneshot
ExecStart={true}
"""


def true_executable() -> str:
    found = shutil.which("true")
    assert found is not None, "the 'true' command is missing from PATH"
    return found


def run_verify(unit_paths: list[Path]) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, unit_paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def verifiable_units(tmp_path: Path) -> list[Path]:
    """Copies of our units whose ExecStart runs `true` with the same arguments.

    verify checks that ExecStart is executable; the venv path only exists on an
    installed Pi, and this test is about the unit files, not about the install.
    """
    copies_dir = tmp_path / "units"
    copies_dir.mkdir()
    true_path = true_executable()
    copies = []
    for original in station_unit_files():
        text = original.read_text(encoding="utf-8")
        text = text.replace(f"ExecStart={INSTALLED_STATION} ", f"ExecStart={true_path} ")
        copy = copies_dir / original.name
        copy.write_text(text, encoding="utf-8")
        copies.append(copy)
    return copies


def skip_unless_verify_works_here(tmp_path: Path) -> None:
    """Skip when verify fails even on a trivially valid unit: then it cannot judge ours.

    That happens where systemd-analyze cannot set up its offline manager (for example
    some sandboxes without /run or cgroup access). It is decided by running verify, not
    by guessing from the environment.
    """
    control_dir = tmp_path / "control"
    control_dir.mkdir()
    control = control_dir / "station-verify-control.service"
    control.write_text(MINIMAL_VALID_SERVICE.format(true=true_executable()), encoding="utf-8")
    result = run_verify([control])
    if result.returncode != 0 or result.stdout.strip() or result.stderr.strip():
        pytest.skip(
            "systemd-analyze verify fails on a minimal valid unit on this machine "
            f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()}"
        )


def findings_about(units: list[Path], result: subprocess.CompletedProcess[str]) -> list[str]:
    names = [unit.name for unit in units]
    output = (result.stdout + result.stderr).splitlines()
    return [line for line in output if any(name in line for name in names)]


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_units(
    tmp_path: Path, verifiable_units: list[Path]
) -> None:
    skip_unless_verify_works_here(tmp_path)
    assert [p.read_text().count("ExecStart=" + true_executable()) for p in verifiable_units] == [
        1 if p.suffix == ".service" and p.name != JACKD_UNIT.name else 0
        for p in verifiable_units
    ], "ExecStart was not rewritten; did the install path in the units change?"

    result = run_verify(verifiable_units)

    # verify exits 0 even for unknown keys and unparsable values, so its messages
    # about our files are what tells us something is wrong.
    assert findings_about(verifiable_units, result) == []
    assert result.returncode == 0, result.stderr


@needs_systemd_analyze
def test_systemd_analyze_verify_would_catch_a_broken_directive(
    tmp_path: Path, verifiable_units: list[Path]
) -> None:
    """Proves the check above can fail: a misspelt directive and value are reported."""
    skip_unless_verify_works_here(tmp_path)
    engine_copy = next(p for p in verifiable_units if p.name == ENGINE_UNIT.name)
    text = engine_copy.read_text(encoding="utf-8")
    broken = text.replace("Restart=on-failure", "Restart=on-falure\nWatchdogSecs=10")
    assert broken != text
    engine_copy.write_text(broken, encoding="utf-8")

    findings = findings_about(verifiable_units, run_verify(verifiable_units))

    assert any("Unknown key" in line and "WatchdogSecs" in line for line in findings), findings
    assert any("Failed to parse" in line and "on-falure" in line for line in findings), findings


# --- mosquitto snippet and ACL -------------------------------------------------------------

MOSQUITTO = shutil.which("mosquitto")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None or MOSQUITTO_PASSWD is None,
    reason="mosquitto and mosquitto_passwd are not installed (Debian package mosquitto)",
)

BROKER_TIMEOUT_SECONDS = 10.0
LOGINS = {"room-1": "pw-room-1", "room-2": "pw-room-2", "dashboard": "pw-dashboard"}


def snippet_directives() -> list[list[str]]:
    lines = MOSQUITTO_SNIPPET.read_text(encoding="utf-8").splitlines()
    return [line.split() for line in lines if line.strip() and not line.startswith("#")]


def test_snippet_keeps_plain_mqtt_on_localhost_and_requires_logins() -> None:
    assert snippet_directives() == [
        ["listener", "1883", "127.0.0.1"],
        ["allow_anonymous", "false"],
        ["password_file", "/etc/mosquitto/sensory-station.passwd"],
        ["acl_file", "/etc/mosquitto/sensory-station.acl"],
    ]


def test_snippet_offers_a_tls_listener_to_uncomment() -> None:
    text = MOSQUITTO_SNIPPET.read_text(encoding="utf-8")
    for directive in ("#listener 8883", "#cafile ", "#certfile ", "#keyfile "):
        assert f"\n{directive}" in text


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[int]:
    """mosquitto running our snippet and ACL on a free port; yields the port."""
    assert MOSQUITTO is not None and MOSQUITTO_PASSWD is not None
    port = free_port()
    password_file = tmp_path / "passwd"
    password_file.touch()
    for user, password in LOGINS.items():
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", str(password_file), user, password], check=True, timeout=10
        )
    acl_file = tmp_path / "acl"
    shutil.copy(MOSQUITTO_ACL, acl_file)

    config = MOSQUITTO_SNIPPET.read_text(encoding="utf-8")
    replacements = {
        "listener 1883 127.0.0.1": f"listener {port} 127.0.0.1",
        "/etc/mosquitto/sensory-station.passwd": str(password_file),
        "/etc/mosquitto/sensory-station.acl": str(acl_file),
    }
    for production, for_test in replacements.items():
        assert production in config, f"snippet no longer contains {production!r}"
        config = config.replace(production, for_test)
    # Started as root, mosquitto would switch to its own user, which cannot read tmp_path.
    config += f"\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
    config_file = tmp_path / "mosquitto.conf"
    config_file.write_text(config, encoding="utf-8")

    log_path = tmp_path / "mosquitto.log"
    with log_path.open("wb") as log:
        broker = subprocess.Popen(
            [MOSQUITTO, "-c", str(config_file), "-v"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + BROKER_TIMEOUT_SECONDS
        while True:
            if broker.poll() is not None:
                pytest.fail(f"mosquitto refused our snippet:\n{log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not listen on {port}:\n{log_path.read_text()}")
                time.sleep(0.05)
        yield port
    finally:
        broker.terminate()
        broker.wait(timeout=BROKER_TIMEOUT_SECONDS)


class BrokerClient:
    """A paho MQTT v5 client whose acknowledgements can be waited for."""

    def __init__(self, port: int, user: str | None, password: str | None) -> None:
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._acknowledged = threading.Condition()
        self._publish_results: dict[int, ReasonCode] = {}
        self.connect_result: ReasonCode | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connected.wait(BROKER_TIMEOUT_SECONDS), "no CONNACK from mosquitto"

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        self.connect_result = reason_code
        self._connected.set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: object,
    ) -> None:
        self._subscribed.set()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        with self._acknowledged:
            self._publish_results[mid] = reason_code
            self._acknowledged.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.received.put((message.topic, bytes(message.payload)))

    def subscribe(self, topic_filter: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic_filter, qos=1)
        assert self._subscribed.wait(BROKER_TIMEOUT_SECONDS), "no SUBACK from mosquitto"

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._acknowledged:
            acknowledged = self._acknowledged.wait_for(
                lambda: mid in self._publish_results, BROKER_TIMEOUT_SECONDS
            )
            assert acknowledged, f"no PUBACK for {topic}"
            return self._publish_results[mid]

    def next_message(self) -> tuple[str, bytes]:
        return self.received.get(timeout=BROKER_TIMEOUT_SECONDS)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


ConnectAs = Callable[[str | None], BrokerClient]


@pytest.fixture
def connect(secured_broker: int) -> Iterator[ConnectAs]:
    """Log in to the secured broker as one of LOGINS (None: anonymously)."""
    clients: list[BrokerClient] = []

    def connect_as(user: str | None) -> BrokerClient:
        password = LOGINS[user] if user is not None else None
        client = BrokerClient(secured_broker, user, password)
        clients.append(client)
        return client

    yield connect_as
    for client in clients:
        client.close()


@needs_mosquitto
def test_broker_refuses_anonymous_clients(connect: ConnectAs) -> None:
    anonymous = connect(None)
    assert anonymous.connect_result is not None
    assert anonymous.connect_result.getName() == "Not authorized"


@needs_mosquitto
def test_station_may_publish_only_under_its_own_id(connect: ConnectAs) -> None:
    room_1 = connect("room-1")
    assert room_1.publish("sensory/v1/demo-site/room-1/events", b"{}").is_failure is False
    denied = room_1.publish("sensory/v1/demo-site/room-2/events", b"{}")
    assert denied.getName() == "Not authorized"


@needs_mosquitto
def test_station_reads_only_its_own_commands(connect: ConnectAs) -> None:
    room_1 = connect("room-1")
    room_1.subscribe("sensory/v1/#")
    dashboard = connect("dashboard")

    # Published in this order on one connection, so if room-2's command reached
    # room-1 it would arrive first.
    other_room_command = "sensory/v1/demo-site/room-2/cmd/volume"
    own_command = "sensory/v1/demo-site/room-1/cmd/volume"
    assert dashboard.publish(other_room_command, b"room-2").is_failure is False
    assert dashboard.publish(own_command, b"room-1").is_failure is False

    assert room_1.next_message() == (own_command, b"room-1")


@needs_mosquitto
def test_dashboard_reads_every_station(connect: ConnectAs) -> None:
    dashboard = connect("dashboard")
    dashboard.subscribe("sensory/v1/#")
    room_2 = connect("room-2")

    assert room_2.publish("sensory/v1/demo-site/room-2/events", b"press").is_failure is False

    assert dashboard.next_message() == ("sensory/v1/demo-site/room-2/events", b"press")


@needs_mosquitto
def test_dashboard_may_not_publish_station_data(connect: ConnectAs) -> None:
    dashboard = connect("dashboard")
    denied = dashboard.publish("sensory/v1/demo-site/room-1/events", b"forged")
    assert denied.getName() == "Not authorized"
