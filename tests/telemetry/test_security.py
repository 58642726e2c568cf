"""TLS and the ACL of systemd/ on a real mosquitto, with certificates made by the test."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.config import load_station
from station.contract.events import EventType
from station.contract.topics import Topics

from ..conftest import free_port
from .conftest import StationProcess

REPO = Path(__file__).resolve().parents[2]
ACL = REPO / "systemd" / "mosquitto-sensory-station.acl"
PASSWORDS = {"room-1": "pw-room-1", "room-2": "pw-room-2", "dashboard": "pw-dashboard",
             "homeassistant": "pw-homeassistant"}
SITE = "demo-site"

needs_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("openssl", "mosquitto_passwd")),
    reason="needs openssl and mosquitto_passwd",
)


def openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=30)


def make_certificate(folder: Path, name: str, common_name: str, san: str | None) -> None:
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.csr"),
            "-subj", f"/CN={common_name}")
    extensions = folder / f"{name}.ext"
    extensions.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", str(folder / f"{name}.csr"), "-CA", str(folder / "ca.crt"),
            "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "2",
            "-out", str(folder / f"{name}.crt"), "-extfile", str(extensions))


@dataclass
class SecureBroker:
    password_port: int  # TLS, login by user name and password
    certificate_port: int  # TLS, login by client certificate (CN = user name)
    certs: Path


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    certs = tmp_path / "certs"
    certs.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(certs / "ca.key"), "-out", str(certs / "ca.crt"),
            "-days", "2", "-subj", "/CN=sensory-test-ca")
    make_certificate(certs, "server", "127.0.0.1", "IP:127.0.0.1")
    make_certificate(certs, "room-1", "room-1", None)
    passwords = tmp_path / "passwd"
    passwords.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password],
                       check=True, timeout=10)
    ports = SecureBroker(free_port(), free_port(), certs)
    tls = (f"cafile {certs / 'ca.crt'}\ncertfile {certs / 'server.crt'}\n"
           f"keyfile {certs / 'server.key'}\n")
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"per_listener_settings false\nallow_anonymous false\npassword_file {passwords}\n"
        f"acl_file {ACL}\nuser {getpass.getuser()}\n"
        f"listener {ports.password_port} 127.0.0.1\n{tls}"
        f"listener {ports.certificate_port} 127.0.0.1\n{tls}"
        "require_certificate true\nuse_identity_as_username true\n"
    )
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as output:
        broker = subprocess.Popen(["mosquitto", "-c", str(config), "-v"], stdout=output,
                                  stderr=subprocess.STDOUT)
    waited = threading.Event()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", ports.certificate_port), 0.5).close()
            break
        except OSError:
            if broker.poll() is not None or waited.wait(0.05):
                pytest.fail(f"mosquitto did not start:\n{log.read_text()}")
    yield ports
    broker.terminate()
    broker.wait(10)


class TlsClient:
    """The outside world: a paho client over TLS, logged in as `user`."""

    def __init__(self, broker: SecureBroker, user: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.tls_set(ca_certs=str(broker.certs / "ca.crt"))
        self.client.username_pw_set(user, PASSWORDS[user])
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.password_port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.arrived:
            self.received.append((message.topic, bytes(message.payload)))
            self.arrived.notify_all()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self.ready.wait(10)

    def wait_for(self, topic: str, payload: bytes, timeout: float = 20) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: (topic, payload) in self.received, timeout), (
                f"{topic} {payload!r} did not arrive; got {self.received}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def station_file(station_config: Any, broker: SecureBroker, **mqtt_settings: Any) -> Path:
    path: Path = station_config({
        "station.site": SITE, "audio.backend": "null", "mqtt.host": "127.0.0.1",
        **{f"mqtt.{key}": value for key, value in mqtt_settings.items()},
    })
    return path


@needs_tools
def test_a_station_over_tls_publishes_only_into_its_own_subtree(
    secure_broker: SecureBroker, station_config: Any
) -> None:
    dashboard = TlsClient(secure_broker, "dashboard")
    dashboard.subscribe("sensory/v1/#")
    config = station_file(station_config, secure_broker, port=secure_broker.password_port,
                          ca_file=str(secure_broker.certs / "ca.crt"), username="room-1",
                          password=PASSWORDS["room-1"])
    loaded = load_station(config)
    topics = Topics(loaded.config.mqtt.topic_root, SITE, "room-1")
    agent = StationProcess(["agent", "--config", str(config)])
    agent.start()
    try:
        dashboard.wait_for(topics.status, b"online")
    finally:
        agent.stop()
    assert PASSWORDS["room-1"] not in agent.log, "a secret in the log"

    # The station's credentials, used to write into room-2's subtree, are refused by the ACL:
    # the dashboard receives the station's own message but never the forged one.
    station = TlsClient(secure_broker, "room-1")
    try:
        forged = Topics(loaded.config.mqtt.topic_root, SITE, "room-2").events
        station.client.publish(forged, b'{"forged": true}', qos=1).wait_for_publish(10)
        station.client.publish(topics.events, b'{"own": true}', qos=1).wait_for_publish(10)
        dashboard.wait_for(topics.events, b'{"own": true}')
        assert (forged, b'{"forged": true}') not in dashboard.received
    finally:
        station.close()
        dashboard.close()


@needs_tools
def test_a_station_writes_only_its_own_home_assistant_discovery(
    secure_broker: SecureBroker,
) -> None:
    home_assistant = TlsClient(secure_broker, "homeassistant")
    home_assistant.subscribe("homeassistant/#")
    station = TlsClient(secure_broker, "room-1")
    try:
        other = "homeassistant/sensor/room-2/session/config"
        own = "homeassistant/sensor/room-1/session/config"
        station.client.publish(other, b"forged", qos=1).wait_for_publish(10)
        station.client.publish(own, b"own", qos=1).wait_for_publish(10)
        home_assistant.wait_for(own, b"own")
        assert (other, b"forged") not in home_assistant.received
    finally:
        station.close()
        home_assistant.close()


@needs_tools
def test_a_station_logs_in_with_its_client_certificate(
    secure_broker: SecureBroker, station_config: Any
) -> None:
    dashboard = TlsClient(secure_broker, "dashboard")
    dashboard.subscribe("sensory/v1/#")
    certs = secure_broker.certs
    config = station_file(station_config, secure_broker, port=secure_broker.certificate_port,
                          ca_file=str(certs / "ca.crt"), cert_file=str(certs / "room-1.crt"),
                          key_file=str(certs / "room-1.key"))
    agent = StationProcess(["agent", "--config", str(config)])
    agent.start()
    try:
        dashboard.wait_for(f"sensory/v1/{SITE}/room-1/status", b"online")
    finally:
        agent.stop()
        dashboard.close()


@needs_tools
def test_a_wrong_password_is_a_clear_status_and_log_line(
    secure_broker: SecureBroker, station_config: Any, tmp_path: Path
) -> None:
    config = station_file(station_config, secure_broker, port=secure_broker.password_port,
                          ca_file=str(secure_broker.certs / "ca.crt"), username="room-1",
                          password="not-the-password")
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(20)
        agent = StationProcess(["agent", "--config", str(config)],
                               environment={"NOTIFY_SOCKET": str(notify_path)})
        agent.start()
        try:
            status = ""
            while "offline" not in status:
                status = notify.recv(4096).decode()
        finally:
            agent.stop()
    assert "offline: the broker refused the login (" in status
    assert "refused the connection" in agent.log
    assert "check mqtt.username and mqtt.password" in agent.log
    assert "not-the-password" not in agent.log and "not-the-password" not in status


def test_config_show_masks_the_password_and_check_names_a_missing_certificate(
    station_config: Any,
) -> None:
    import sys

    config = station_config({"mqtt.password": "s3cret-pass", "mqtt.ca_file": "certs/nope.crt"})
    checked = subprocess.run([sys.executable, "-m", "station", "config", "check", str(config)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 1
    assert "mqtt.ca_file: file not found: 'certs/nope.crt'" in checked.stderr
    config = station_config({"mqtt.ca_file": ""})
    shown = subprocess.run([sys.executable, "-m", "station", "config", "show", "--config",
                            str(config)], capture_output=True, text=True, timeout=30)
    assert "s3cret-pass" not in shown.stdout and "********" in shown.stdout


@needs_tools
def test_an_untrusted_broker_certificate_is_a_clear_log_line(
    secure_broker: SecureBroker, station_config: Any
) -> None:
    # A CA file that did not sign the broker's certificate.
    config = station_file(station_config, secure_broker, port=secure_broker.password_port,
                          ca_file=str(secure_broker.certs / "room-1.crt"), username="room-1",
                          password=PASSWORDS["room-1"])
    agent = StationProcess(["agent", "--config", str(config)])
    agent.start()
    waited = threading.Event()
    try:
        for _ in range(100):
            if "TLS handshake failed" in agent.log or waited.wait(0.1):
                break
    finally:
        agent.stop()
    assert "the TLS handshake failed; check mqtt.ca_file" in agent.log, agent.log


@needs_tools
def test_events_the_acl_refuses_are_reported_and_kept(
    secure_broker: SecureBroker, station_config: Any
) -> None:
    """A station whose id does not match its login: MQTT 5 makes the broker's refusal visible,
    so the events stay in the log instead of vanishing into a silent 3.1.1 drop."""
    config = station_file(station_config, secure_broker, port=secure_broker.password_port,
                          ca_file=str(secure_broker.certs / "ca.crt"), username="room-1",
                          password=PASSWORDS["room-1"])
    text = config.read_text().replace('id = "room-1"', 'id = "room-2"')
    config.write_text(text)
    loaded = load_station(config)
    from station.telemetry.eventlog import DeliveryCursor, EventRecorder

    recorder = EventRecorder(loaded.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.record(EventType.PRESS, "big-red", None)
    recorder.close()
    agent = StationProcess(["agent", "--config", str(config)])
    agent.start()
    waited = threading.Event()
    try:
        for _ in range(150):
            if "check that its ACL lets this station's login write" in agent.log or (
                    waited.wait(0.1)):
                break
    finally:
        agent.stop()
    assert ("the broker refused 2 messages (Not authorized); check that its ACL lets this "
            "station's login write sensory/v1/demo-site/room-2/#") in agent.log, agent.log
    cursor = DeliveryCursor(loaded.data_dir)
    assert cursor.seq == 0, "nothing counts as delivered"
    cursor.close()
