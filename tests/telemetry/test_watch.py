"""`station watch` against a real broker and a running station."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from rich.console import Console

from station.config import LoadedStation
from station.contract.topics import Topics
from station.engine.control_socket import send_command
from station.telemetry.watch import StationBoard, connect

from .conftest import StationProcess


def test_watch_shows_each_station_as_the_broker_reports_it(
    station: LoadedStation, topics: Topics, engine_process: StationProcess,
    agent_process: StationProcess, mosquitto: Any, subscriber_factory: Any,
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [f"{topics.base}/#"])
    agent_process.start()
    send_command(station.data_dir, {"command": "select_client", "client": "C-2M9Q"})
    for line in ("press", "release", "press", "release"):  # the second within the lockout
        engine_process.write(f"{line} big-red\n")
        threading.Event().wait(0.12)
    subscriber.wait_for(lambda topic, payload: topic == topics.aggregates
                        and json.loads(payload)["rejected"] == {"lockout": 1})
    subscriber.wait_for(lambda topic, payload: topic == topics.state
                        and json.loads(payload)["client"] == "C-2M9Q")
    # A second station that went away: its retained status says so.
    subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-r", "-t",
                    f"{topics.root}/{topics.site}/room-9/status", "-m", "offline"],
                   check=True, timeout=10)

    result = subprocess.run(
        [sys.executable, "-m", "station", "watch", "--config", str(station.path),
         "--once", "1.5"], capture_output=True, text=True, timeout=30,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
            if line.count("│") > 5 and "demo-site/" in line}
    ours = rows[f"{topics.site}/{topics.station}"]
    for shown in ("online", "C-2M9Q", "calm-bells", "100 %", "big-red 1", "lockout 1"):
        assert shown in ours, (shown, result.stdout)
    assert "offline" in rows[f"{topics.site}/room-9"]


def test_watch_renders_live_changes_from_the_broker(
    station: LoadedStation, topics: Topics, mosquitto: Any
) -> None:
    board = StationBoard(topics.root)
    client = connect(board, station, board.subscriptions())
    try:
        # Retained, as the agent publishes it: the view may subscribe after it was sent.
        subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-r", "-t", topics.state,
                        "-m",
                        json.dumps({"client": "C-7F3K", "sound_set": "warm-strings",
                                    "volume": 0.5, "session": "abc123"})],
                       check=True, timeout=10)
        with board.changed:
            assert board.changed.wait_for(lambda: board.stations, 10)
    finally:
        client.disconnect()
        client.loop_stop()
    console = Console(record=True, width=200)
    console.print(board.table())
    text = console.export_text()
    assert "warm-strings" in text and "50 %" in text and "abc123" in text
    assert board.update(topics.state, b"not json") is False, "a bad message is ignored"
