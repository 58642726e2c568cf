"""`station demo`: the whole station with simulated switches, its own broker, data and
dashboard.

The dashboard runs beside the station (as `station run` starts it), with a therapist login
made for this run; its address and the login are printed. With a terminal the keyboard plays
and the per-input counts that come back over MQTT are shown as they change. Without one, a
scripted session presses the switches for a set time, records it to a WAV file, prints the
counts the broker delivered, ends the session and saves its report from the dashboard, signed
in as a browser would.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station.config import LoadedStation, load_dashboard, load_station
from station.contract.topics import Topics
from station.dashboard.demo_login import (
    DashboardBrowser,
    DashboardRequestError,
    DemoLogin,
    make_demo_login,
)
from station.engine.control_socket import send_command
from station.signals import on_signals
from station.supervisor import Supervisor, station_children

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 30.0
DELIVERY_TIMEOUT_SECONDS = 15.0
REPORT_TIMEOUT_SECONDS = 30.0
DASHBOARD_PORT = 8080  # the dashboard's default; another free one when it is taken
# The scripted session: one press every PRESS_INTERVAL seconds, held for HOLD seconds,
# walking up and down the inputs like a client exploring the switches.
PRESS_INTERVAL = 0.6
HOLD = 0.25


def free_port(preferred: int = 0) -> int:
    """`preferred` if it is free on 127.0.0.1, else any free port."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CountsWatcher:
    """Subscribes to the per-input counts of the station's session over MQTT."""

    def __init__(self, station: LoadedStation, on_change: Any = None) -> None:
        config = station.config
        self.topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
        self.counts: dict[str, int] = {}
        self.session = ""
        self.session_started = threading.Event()
        self.changed = threading.Condition()
        self._on_change = on_change
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sensory-station-demo")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async(config.mqtt.host or "127.0.0.1", config.mqtt.port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(self.topics.counts, 1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # The embedded broker (amqtt 0.12) also hands a connecting client the retained
        # messages of topics other clients subscribed to: only the counts topic is read.
        if message.topic != self.topics.counts:
            return
        try:
            payload = json.loads(message.payload)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            log.warning("demo: counts message that is not a JSON object ignored: %r",
                        message.payload[:80])
            return
        # The agent publishes (empty) counts as soon as it has delivered the session's start.
        if payload.get("session"):
            self.session = payload["session"]
            self.session_started.set()
        with self.changed:
            self.counts = dict(payload.get("counts", {}))
            self.changed.notify_all()
        if self._on_change is not None:
            self._on_change(self.counts)

    def wait_for_total(self, total: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: sum(self.counts.values()) >= total, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _script(inputs: list[str], seconds: float) -> list[tuple[float, str, str]]:
    """(time, 'press'/'release', input) for a session of `seconds`."""
    order = inputs + inputs[-2:0:-1]
    steps = []
    at = 0.0
    index = 0
    while at + HOLD < seconds:
        name = order[index % len(order)]
        steps += [(at, "press", name), (at + HOLD, "release", name)]
        at += PRESS_INTERVAL
        index += 1
    return steps


def run_demo(config_path: Path, overrides: list[str], seconds: float, record: Path,
             report: Path) -> int:
    scripted = not sys.stdin.isatty()
    with tempfile.TemporaryDirectory(prefix="station-demo-") as data_dir:
        overrides = [*overrides, f'station.data_dir="{data_dir}"']
        station = load_station(config_path, overrides)
        if not station.config.mqtt.host:
            overrides.append(f"mqtt.port={free_port()}")
        port = free_port(DASHBOARD_PORT)
        overrides += ["dashboard.enabled=true", 'dashboard.listen="127.0.0.1"',
                      f"dashboard.port={port}"]
        station = load_station(config_path, overrides)
        login = make_demo_login(load_dashboard(config_path, overrides),
                                station.config.station.client)
        dashboard = DashboardBrowser(f"http://127.0.0.1:{port}")
        children = station_children(
            station, config_path, overrides, simulate=True,
            record=record if scripted else None,
            engine_stdin=subprocess.PIPE if scripted else None,
        )
        supervisor = Supervisor(children)
        # SIGTERM (a timeout, a closed terminal) ends the demo as Ctrl-C does: with its
        # station's processes, not leaving them running.
        previous = on_signals((signal.SIGTERM,), supervisor.stopping.set)
        supervisor.start()
        show = None if scripted else (lambda counts: print(_format(counts), flush=True))
        watcher = CountsWatcher(station, show)
        try:
            if not _wait_unless_stopped(watcher.session_started, supervisor.stopping,
                                        READY_TIMEOUT_SECONDS):
                if not supervisor.stopping.is_set():
                    print("demo: the station did not start within 30 s (see the log above)",
                          file=sys.stderr)
                return 1
            if not dashboard.wait_listening(READY_TIMEOUT_SECONDS, supervisor.stopping):
                print("demo: the dashboard did not answer within 30 s (see the log above)",
                      file=sys.stderr)
                return 1
            print(f"demo: dashboard at {dashboard.url}/ : sign in as {login.name}, password "
                  f"{login.password} (made for this run)", flush=True)
            if not scripted:
                print("demo: play with the keys above; Ctrl-C ends the demo", flush=True)
                supervisor.run_until_stopped()
                return 0
            engine = next(child for child in children if child.name == "engine")
            # The script plays the client's inputs; the therapist's controls are left alone.
            play = [item for item in station.config.inputs if item.role == "play"]
            sent = _play_script(engine.stdin_pipe, play, seconds, supervisor)
            delivered = watcher.wait_for_total(sum(sent.values()), DELIVERY_TIMEOUT_SECONDS)
            print(f"demo: recorded {record}")
            print(f"demo: counts received over MQTT: {_format(watcher.counts)}")
            if not delivered:
                print(f"demo: expected {_format(sent)}; some presses did not arrive",
                      file=sys.stderr)
                return 1
            return _save_report(station, watcher.session, dashboard, login, report)
        finally:
            watcher.close()
            supervisor.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _wait_unless_stopped(event: threading.Event, stopping: threading.Event,
                         timeout: float) -> bool:
    """Wait for `event` up to `timeout` s, giving up early once `stopping` is set."""
    deadline = time.monotonic() + timeout
    while not event.wait(0.1):
        if stopping.is_set() or time.monotonic() > deadline:
            return False
    return True


def _save_report(station: LoadedStation, session: str, dashboard: DashboardBrowser,
                 login: DemoLogin, report: Path) -> int:
    """End the session, sign in at the dashboard as the demo's therapist and, once the
    dashboard has stored the session's end, save the session's report (PDF)."""
    ended = send_command(station.data_dir, {"command": "end_session"})
    if not ended.get("ok"):
        print(f"demo: the session could not be ended: {ended.get('error')}", file=sys.stderr)
        return 1
    pages = f"/clients/{login.client}/sessions/{session}"
    try:
        dashboard.sign_in(login)
        status, body = dashboard.get_when(
            f"{pages}/events.csv", lambda status, body: b",session_end," in body,
            REPORT_TIMEOUT_SECONDS)
        if b",session_end," in body:
            status, body = dashboard.get(f"{pages}/report.pdf")
    except (DashboardRequestError, OSError) as error:
        print(f"demo: the dashboard's report could not be fetched: {error}", file=sys.stderr)
        return 1
    if status != 200 or not body.startswith(b"%PDF"):
        print(f"demo: the dashboard had not stored the session's end within "
              f"{REPORT_TIMEOUT_SECONDS:.0f} s, or answered {status} for "
              f"{dashboard.url}{pages}/report.pdf", file=sys.stderr)
        return 1
    report.write_bytes(body)
    print(f"demo: session report saved to {report} (from {dashboard.url}{pages}/report.pdf)")
    return 0


def _play_script(
    pipe: Any, inputs: list[Any], seconds: float, supervisor: Supervisor
) -> dict[str, int]:
    names = [item.name for item in inputs]
    sent: dict[str, int] = {}
    start = time.monotonic()
    for at, action, name in _script(names, seconds):
        delay = start + at - time.monotonic()
        if delay > 0 and supervisor.stopping.wait(delay):
            break
        pipe.write(f"{action} {name}\n")
        pipe.flush()
        if action == "press":
            sent[name] = sent.get(name, 0) + 1
    return sent


def _format(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none yet"
