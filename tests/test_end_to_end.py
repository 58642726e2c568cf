"""The whole station as a user runs it: `station run --simulate`, a real broker, a WAV file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import wave
from array import array
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.contract.topics import Topics


def _station(config: Path, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "station", "run", "--config", str(config), *arguments],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        _, log = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, log = process.communicate()
        pytest.fail(f"the station did not stop within 20 s on SIGTERM:\n{log}")
    return log


def _first_sound_seconds(path: Path, threshold: float = 1e-3) -> float | None:
    with wave.open(str(path)) as recording:
        assert recording.getsampwidth() == 3, "24-bit WAV"
        channels = recording.getnchannels()
        rate = recording.getframerate()
        frames = recording.readframes(recording.getnframes())
    samples = array("i", (int.from_bytes(frames[i:i + 3], "little", signed=True)
                          for i in range(0, len(frames), 3)))
    limit = threshold * 2**23
    for index, sample in enumerate(samples):
        if abs(sample) > limit:
            return index // channels / rate
    return None


@pytest.fixture
def topics(station_config: Any, mosquitto: Any) -> tuple[Path, Topics]:
    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "null"})
    config = load_station(path).config
    return path, Topics(config.mqtt.topic_root, config.station.site, config.station.id)


def test_a_simulated_press_sounds_is_recorded_and_reaches_the_broker(
    topics: tuple[Path, Topics], mosquitto: Any, subscriber_factory: Any, tmp_path: Path
) -> None:
    config, station_topics = topics
    subscriber = subscriber_factory(mosquitto.port, [f"{station_topics.base}/#"])
    recording = tmp_path / "session.wav"
    station = _station(config, "--simulate", "--record", str(recording))
    assert station.stdin is not None
    try:
        start = subscriber.wait_for_events(
            station_topics.events, lambda events: any(e["type"] == "session_start"
                                                      for e in events), timeout=30
        )[0]
        assert start["detail"]["recording"] is True
        # A stretch of silence first, so that "the sound starts at the press" can be told
        # apart from "the sound starts with the recording".
        threading.Event().wait(0.3)
        station.stdin.write("press big-blue\n")
        station.stdin.flush()
        press = subscriber.wait_for_events(
            station_topics.events, lambda events: any(e["type"] == "press" for e in events)
        )[-1]
        station.stdin.write("release big-blue\nwave hello\n")
        station.stdin.flush()
        subscriber.wait_for_events(
            station_topics.events, lambda events: any(e["type"] == "release" for e in events)
        )
        subscriber.wait_for(
            lambda topic, payload: topic == station_topics.counts
            and json.loads(payload)["counts"] == {"big-blue": 1}
        )
    finally:
        log = _stop(station)

    assert station.returncode == 0, log
    assert press["input"] == "big-blue" and press["client"] == "C-7F3K"
    assert "error: cannot read 'wave hello'" in log
    subscriber.wait_for(lambda topic, payload: topic == station_topics.status
                        and payload == b"offline")

    # The recording starts with the session: the note must begin where the press was.
    onset = _first_sound_seconds(recording)
    pressed_after = press["t_mono"] - start["t_mono"]
    assert onset is not None, "the recording has no sound"
    assert pressed_after >= 0.3
    assert pressed_after - 0.01 <= onset <= pressed_after + 0.06


def test_a_crashed_engine_is_restarted_and_starts_a_new_session(
    topics: tuple[Path, Topics], mosquitto: Any, subscriber_factory: Any
) -> None:
    config, station_topics = topics
    subscriber = subscriber_factory(mosquitto.port, [station_topics.events])
    station = _station(config, "--simulate")
    try:
        first = subscriber.wait_for_events(
            station_topics.events, lambda events: any(e["type"] == "session_start"
                                                      for e in events), timeout=30
        )[0]
        engine_pid = int(first["detail"]["pid"])
        os.kill(engine_pid, signal.SIGKILL)
        sessions = subscriber.wait_for_events(
            station_topics.events,
            lambda events: len([e for e in events if e["type"] == "session_start"]) >= 2,
            timeout=30,
        )
    finally:
        log = _stop(station)
    restarted = [e for e in sessions if e["type"] == "session_start"][-1]
    assert restarted["detail"]["pid"] != engine_pid
    assert "engine exited with status -9; restarting" in log
