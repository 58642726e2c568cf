"""The inputs inside a running `station engine --simulate`: a client's profile changed at run
time reaches each input, rejected presses land in the event log, and the session button
starts a session only on a long press."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.engine.control_socket import ControlError, send_command
from station.telemetry.eventlog import Event, iterate_all

WAIT = 20.0


class RunningEngine:
    def __init__(self, process: subprocess.Popen[str], data_dir: Path) -> None:
        self.process = process
        self.data_dir = data_dir

    def send(self, *lines: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{line}\n" for line in lines))
        self.process.stdin.flush()

    def wait_for(self, what: str, predicate: Callable[[list[Event]], bool]) -> list[Event]:
        """The event log once `predicate` holds for it (checked every 50 ms)."""
        pause = threading.Event()
        for _ in range(int(WAIT / 0.05)):
            events = list(iterate_all(self.data_dir))
            if predicate(events):
                return events
            pause.wait(0.05)
        pytest.fail(f"{what}: not in the event log within {WAIT} s; got "
                    f"{[(e.type, e.input, e.reason) for e in events][-10:]}")


@contextlib.contextmanager
def running_engine(path: Path) -> Iterator[RunningEngine]:
    """`station engine --simulate` of station file `path`, once its control socket answers;
    stopped by SIGTERM on leaving."""
    data_dir = load_station(path).data_dir
    process = subprocess.Popen(
        [sys.executable, "-m", "station", "engine", "--simulate", "--config", str(path)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    pause = threading.Event()
    for _ in range(200):
        try:
            send_command(data_dir, {"command": "status"}, timeout=0.2)
            break
        except ControlError:
            if process.poll() is not None:
                break
            pause.wait(0.1)
    else:
        process.kill()
        pytest.fail(f"the engine did not start: {process.communicate()[1]}")
    try:
        yield RunningEngine(process, data_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


@pytest.fixture
def engine(station_config: Any) -> Iterator[RunningEngine]:
    with running_engine(station_config({"audio.backend": "null"})) as running:
        yield running


def test_a_new_clients_profile_applies_to_each_input_at_once(engine: RunningEngine) -> None:
    assert send_command(engine.data_dir, {"command": "select_client", "client": "C-2M9Q"})["ok"]
    # C-2M9Q: every input waits 80 ms before a press counts; the head switch latches.
    engine.send("press big-red", "release big-red", "press head-switch")
    engine.wait_for("the held head switch accepted", lambda events: any(
        e.type == "press" and e.input == "head-switch" for e in events))
    engine.send("release head-switch", "press big-yellow", "release big-yellow")
    events = engine.wait_for("the second tap rejected", lambda events: any(
        e.type == "rejected" and e.input == "big-yellow" for e in events))
    after = [(e.type, e.input, e.reason, e.client) for e in events if e.input is not None]
    assert after == [
        ("rejected", "big-red", "too_short", "C-2M9Q"),
        ("press", "head-switch", None, "C-2M9Q"),
        ("rejected", "big-yellow", "too_short", "C-2M9Q"),
    ], "latched: the head switch's note plays on after it is let go"


def test_the_session_button_starts_a_session_only_when_held(engine: RunningEngine) -> None:
    assert send_command(engine.data_dir, {"command": "end_session"})["ok"]
    engine.send("press session", "release session")  # a bump: no session
    engine.send("press session")
    events = engine.wait_for(
        "a session started by the button",
        lambda events: events[-1].type == "session_start" and events[-2].type == "session_end",
    )
    assert events[-1].session != events[-2].session
    assert send_command(engine.data_dir, {"command": "status"})["state"]["session"] == (
        events[-1].session
    )
    engine.send("release session")


def test_the_cue_button_cues_every_play_input_and_is_ignored_while_a_cue_waits(
    engine: RunningEngine,
) -> None:
    engine.send("press cue", "release cue")
    events = engine.wait_for("a cue from the cue button", lambda events: any(
        e.type == "cue" for e in events))
    [cue] = [e for e in events if e.type == "cue"]
    assert cue.detail is not None
    assert cue.detail["targets"] == ["big-red", "big-blue", "big-yellow", "head-switch"]
    assert cue.detail["window_ms"] == 5000
    engine.send("press cue", "release cue")  # while it waits: nothing more
    engine.send("press big-red", "release big-red")  # may be an anticipation or the answer
    events = engine.wait_for("the cue's outcome", lambda events: any(
        e.type in ("response", "no_response") for e in events))
    assert [e.type for e in events].count("cue") == 1
