"""The agent thrown off the broker again and again while presses stream in: every event
arrives, the retained counts end right, and the tallies are only ever touched by one thread."""

from __future__ import annotations

import inspect
import json
import socket
import threading
from collections import Counter
from collections.abc import Callable
from itertools import cycle
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from station.config import LoadedStation
from station.contract.events import EventType
from station.contract.topics import Topics
from station.telemetry.agent import TelemetryAgent
from station.telemetry.aggregate import PressGaps, SessionTally, StationState
from station.telemetry.eventlog import EventRecorder, iterate_all

KICKS = 6  # alternately the link drops and the broker restarts
INPUTS = ("big-red", "big-blue", "big-yellow", "head-switch")
PRESS_EVERY_SECONDS = 0.003  # a steady stream, faster than any client presses


class ThreadsCalling:
    """Which threads run the methods of `classes`, by thread name.

    Seen by a profile hook that `threading.setprofile` gives every thread started while this
    is entered (the agent's delivery loop, paho's network thread, the command worker); it only
    looks, so the agent runs as it does in production, only slower.
    """

    def __init__(self, *classes: type) -> None:
        self._methods = {
            function.__code__: f"{cls.__name__}.{name}"
            for cls in classes for name, function in vars(cls).items()
            if inspect.isfunction(function)
        }
        self.calls: dict[str, set[str]] = {}

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and (method := self._methods.get(frame.f_code)) is not None:
            self.calls.setdefault(threading.current_thread().name, set()).add(method)

    def __enter__(self) -> ThreadsCalling:
        threading.setprofile(self._hook)
        return self

    def __exit__(self, *exception: object) -> None:
        threading.setprofile(None)  # threads started inside keep the hook until they end


class Statuses:
    """The agent's systemd status lines, from a datagram socket in $NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(20)

    def wait_for(self, starts: str) -> str:
        """The next status line that starts with `starts` (the ones before it are skipped)."""
        while True:
            try:
                datagram = self.socket.recv(4096).decode()
            except TimeoutError:
                pytest.fail(f"the agent never reported a status starting {starts!r}")
            for line in datagram.splitlines():
                if line.startswith(f"STATUS={starts}"):
                    return line.removeprefix("STATUS=")


def press_steadily(recorder: EventRecorder, pressed: Counter[str], until: threading.Event) -> None:
    """Presses round the inputs, one every PRESS_EVERY_SECONDS, until `until` is set."""
    for name in cycle(INPUTS):
        if until.wait(PRESS_EVERY_SECONDS):
            return
        recorder.record(EventType.PRESS, name, None)
        pressed[name] += 1


def in_thread(target: Callable[[], object], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def test_reconnects_while_events_are_delivered_lose_nothing_and_keep_the_tallies_on_one_thread(
    station: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    statuses = Statuses(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    # A dashboard: its persistent session keeps what arrives while the broker restarts.
    dashboard = subscriber_factory(mosquitto.port, [
        topics.events, topics.counts, *(topics.input_presses(name) for name in INPUTS)
    ], client_id="dashboard")
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    agent = TelemetryAgent(station)
    pressed: Counter[str] = Counter()
    stop_pressing = threading.Event()
    with ThreadsCalling(SessionTally, StationState, PressGaps) as threads:
        delivery = in_thread(agent.run, "delivery")
        try:
            statuses.wait_for("online")
            presser = in_thread(lambda: press_steadily(recorder, pressed, stop_pressing),
                                "presses")
            for kick in range(KICKS):
                # Kick only while this connection is delivering: the stream has reached the
                # dashboard through it.
                seen = len(dashboard.events(topics.events))
                dashboard.wait_for_events(topics.events, lambda events, seen=seen: len(
                    events) > seen + 20)
                if kick % 2:
                    mosquitto.stop()
                    mosquitto.start()
                else:
                    link = agent.client.socket()
                    assert link is not None, "connected, so paho has a socket"
                    link.shutdown(socket.SHUT_RDWR)  # as a lost Wi-Fi would
                statuses.wait_for("offline: lost the broker")
                assert statuses.wait_for("online") == "online: delivering events"
            stop_pressing.set()
            presser.join(10)
            recorder.close()
            recorded = list(iterate_all(station.data_dir))
            events = dashboard.wait_for_events(topics.events, lambda events: len(
                {e["id"] for e in events}) >= len(recorded), timeout=60)
            # The final counts reached the dashboard, so the broker retains them.
            dashboard.wait_for(lambda topic, payload: topic == topics.counts
                               and json.loads(payload)["counts"] == pressed)
            for name in INPUTS:
                dashboard.wait_for(lambda topic, payload, name=name: topic == topics.input_presses(
                    name) and int(payload) == pressed[name])
        finally:
            stop_pressing.set()
            agent.stopping.set()
            delivery.join(15)
            statuses.socket.close()
    assert not delivery.is_alive(), "the agent stopped"
    assert threads.calls.get("delivery"), "the hook saw the tallies at work"
    assert set(threads.calls) == {"delivery"}, (
        f"tallies touched off the delivery loop: {threads.calls}")

    assert sum(pressed.values()) > 500, "presses streamed throughout"
    by_id: dict[str, Any] = {}
    for event in events:
        assert by_id.setdefault(event["id"], event) == event, "a duplicate is the same event"
    assert set(by_id) == {e.id for e in recorded}, "every recorded event arrived, by id"
    first_seen = list(dict.fromkeys(event["seq"] for event in events))
    assert first_seen == list(range(1, len(recorded) + 1)), "in order, no gaps"

    # What a dashboard that subscribes now is told: the retained counts.
    late = subscriber_factory(mosquitto.port, [
        topics.counts, *(topics.input_presses(name) for name in INPUTS)])
    _, counts = late.wait_for(lambda topic, payload: topic == topics.counts)
    assert json.loads(counts)["counts"] == pressed
    for name in INPUTS:
        _, presses = late.wait_for(lambda topic, payload, name=name:
                                   topic == topics.input_presses(name))
        assert int(presses) == pressed[name], name
