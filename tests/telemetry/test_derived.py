"""What the agent derives from the events: state, aggregates, session summary, health, purge."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from station.config import LoadedStation, load_station
from station.contract import schemas
from station.contract.events import EventType
from station.contract.topics import Topics
from station.telemetry.agent import TelemetryAgent
from station.telemetry.eventlog import EVENTS_FILE, EventRecorder, iterate_all


def connected_agent(station: LoadedStation, port: int) -> TelemetryAgent:
    agent = TelemetryAgent(station)
    agent.client.connect("127.0.0.1", port)
    agent.client.loop_start()
    assert agent.connected.wait(10)
    return agent


def close(agent: TelemetryAgent) -> None:
    agent.client.disconnect()
    agent.client.loop_stop()


def record_a_session(data_dir: Path) -> None:
    """Presses at 0, 1, 3 s (one stretch) and 30 s (a second one, 10 s engaged gap)."""
    recorder = EventRecorder(data_dir)
    recorder.set_context("s-1", "C-7F3K", "calm-bells")
    recorder.record(EventType.SESSION_START, t_mono=95.0, detail={"volume": 1.0})
    for at, hold, name in ((100.0, 0.2, "big-red"), (101.0, 0.4, "big-blue"),
                           (103.0, 0.6, "big-red"), (130.0, 1.0, "big-red")):
        recorder.record(EventType.PRESS, name, None, at)
        recorder.record(EventType.RELEASE, name, None, at + hold, hold * 1000.0)
    recorder.record(EventType.REJECTED, "big-red", "lockout", 103.1)
    recorder.record(EventType.REJECTED, "big-blue", "lockout", 103.2)
    recorder.record(EventType.VOLUME_CHANGED, detail={"volume": 0.6})
    recorder.record(EventType.OBSERVATION, detail={"tag": "prompted"})
    recorder.record(
        EventType.OBSERVATION, detail={"tag": "prompted", "note": "looked at the light"}
    )
    recorder.record(EventType.SESSION_END, t_mono=140.0)
    recorder.close()


def test_a_session_end_publishes_its_summary(
    station: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [f"{topics.base}/#"])
    record_a_session(station.data_dir)
    agent = connected_agent(station, mosquitto.port)
    try:
        while agent.deliver_once():
            pass
        _, payload = subscriber.wait_for(lambda topic, payload: topic == topics.summary)
        _, state = subscriber.wait_for(lambda topic, payload: topic == topics.state
                                       and json.loads(payload)["session"] == "")
    finally:
        close(agent)
    summary = json.loads(payload)
    assert not schemas.problems("summary", summary)
    assert summary["counts"] == {"big-red": 3, "big-blue": 1}
    assert summary["accepted"] == 4
    assert summary["rejected"] == {"lockout": 2}
    assert summary["rejected_by_input"] == {"big-red": {"lockout": 1}, "big-blue": {"lockout": 1}}
    assert summary["hold_ms"] == {"count": 4, "mean": 550.0, "median": 500.0, "max": 1000.0}
    assert summary["gap_ms"] == {"count": 3, "mean": 10000.0, "median": 2000.0, "max": 27000.0}
    # Stretches: 100.0 → 103.6 (3 presses) and 130.0 → 131.0 (1 press).
    assert summary["longest_engaged_stretch"] == {"seconds": 3.6, "presses": 3}
    assert summary["active_s"] == 4.6
    assert summary["observation_tags"] == {"prompted": 2}
    assert [o.get("note") for o in summary["observations"]] == [None, "looked at the light"]
    assert summary["client"] == "C-7F3K" and summary["session"] == "s-1"
    assert summary["duration_s"] == 45.0 and summary["ended_by"] == "session_end"
    assert json.loads(state) == {"client": "C-7F3K", "sound_set": "calm-bells", "volume": 0.6,
                                 "session": ""}


def test_aggregates_count_accepted_and_rejected_presses_per_input(
    station: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.aggregates])
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    now = time.monotonic()
    for offset in (-90.0, -30.0, -20.0, -1.0):  # three in the last minute
        recorder.record(EventType.PRESS, "big-red", None, now + offset)
    recorder.record(EventType.REJECTED, "big-red", "lockout", now)
    recorder.record(EventType.REJECTED, "head-switch", "lockout", now)
    recorder.close()
    agent = connected_agent(station, mosquitto.port)
    try:
        while agent.deliver_once():
            pass
        agent.publish_periodic()
        _, payload = subscriber.wait_for(lambda topic, payload: True)
    finally:
        close(agent)
    latest = json.loads(payload)
    assert not schemas.problems("aggregates", latest)
    assert latest["inputs"] == {
        "big-red": {"accepted": 4, "rejected": {"lockout": 1}},
        "head-switch": {"accepted": 0, "rejected": {"lockout": 1}},
    }
    assert latest["accepted"] == 4 and latest["rejected"] == {"lockout": 2}
    assert latest["presses_per_minute"] == 3.0


def test_health_reports_the_backlog_and_a_low_disk(
    station_config: Any, mosquitto: Any, subscriber_factory: Any, caplog: Any
) -> None:
    # More free space required than any disk has: the station must say so, not stay silent.
    station = load_station(station_config({
        "mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port, "telemetry.min_free_mb": 1e12,
    }))
    config = station.config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    subscriber = subscriber_factory(mosquitto.port, [topics.health])
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    for _ in range(5):
        recorder.record(EventType.PRESS, "big-red", None)
    recorder.close()
    agent = connected_agent(station, mosquitto.port)
    try:
        agent.publish_periodic()
        _, payload = subscriber.wait_for(lambda topic, payload: True)
    finally:
        close(agent)
    health = json.loads(payload)
    assert not schemas.problems("health", health)
    assert health["backlog"] == 6 and health["recorded_seq"] == 6 and health["delivered_seq"] == 0
    assert health["disk_low"] is True
    assert "free space or events will stop being recorded" in caplog.text


def test_delivered_events_past_the_retention_are_purged_and_undelivered_kept(
    station_config: Any, mosquitto: Any
) -> None:
    station = load_station(station_config({
        "mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port, "telemetry.retention_days": 1,
    }))
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    for _ in range(1200):
        recorder.record(EventType.PRESS, "big-red", None)
    recorder.close()
    with sqlite3.connect(station.data_dir / EVENTS_FILE) as connection:  # two days ago
        connection.execute("UPDATE events SET t_wall = t_wall - 2 * 86400")
    agent = TelemetryAgent(station)
    agent.cursor.advance(1000)  # delivered up to 1000
    assert agent.purge_old_events() == 1000
    agent.reader.close()
    agent.cursor.close()
    assert [e.seq for e in iterate_all(station.data_dir)] == list(range(1001, 1202))


def test_a_full_event_log_keeps_events_in_memory_says_so_and_writes_them_later(
    tmp_path: Path, caplog: Any
) -> None:
    recorder = EventRecorder(tmp_path)
    assert recorder.flush()
    connection = sqlite3.connect(tmp_path / EVENTS_FILE)
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own "database or disk is full", at the size the file has now.
    recorder._connection.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(2000):
        recorder.record(EventType.PRESS, "big-red", None)
    assert recorder.full.wait(10), "a full log must be noticed"
    assert recorder.healthy, "the engine keeps playing"
    assert "is full" in caplog.text and "the music plays on" in caplog.text
    recorder._connection.execute("PRAGMA max_page_count = 1073741823")  # space freed
    assert recorder.flush(15)
    assert not recorder.full.is_set()
    recorder.close()
    connection.close()
    assert sum(1 for _ in iterate_all(tmp_path)) == 2000


def test_a_session_cut_short_by_a_crash_still_gets_its_summary(
    station: LoadedStation, topics: Topics, mosquitto: Any, subscriber_factory: Any
) -> None:
    subscriber = subscriber_factory(mosquitto.port, [topics.summary])
    recorder = EventRecorder(station.data_dir)
    recorder.set_context("killed", "C-7F3K", "calm-bells")
    recorder.record(EventType.SESSION_START, t_mono=10.0)
    recorder.record(EventType.PRESS, "big-red", None, 12.0)
    recorder.record(EventType.PRESS, "big-red", None, 13.5)
    # The engine was killed here: no session_end. The restarted engine starts a new session.
    recorder.set_context("next", "C-7F3K", "calm-bells")
    recorder.record(EventType.SESSION_START, t_mono=20.0)
    recorder.close()
    agent = connected_agent(station, mosquitto.port)
    try:
        while agent.deliver_once():
            pass
        _, payload = subscriber.wait_for(lambda topic, payload: True)
    finally:
        close(agent)
    summary = json.loads(payload)
    assert not schemas.problems("summary", summary)
    assert summary["session"] == "killed" and summary["ended_by"] == "interrupted"
    assert summary["counts"] == {"big-red": 2} and summary["duration_s"] == 3.5
    assert summary["ended_t_wall"] is None


def test_health_says_the_audio_is_lost_from_the_engines_events_also_after_a_restart(
    station_config: Any, mosquitto: Any, subscriber_factory: Any
) -> None:
    station = load_station(station_config({"mqtt.host": "127.0.0.1",
                                           "mqtt.port": mosquitto.port}))
    config = station.config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    recorder = EventRecorder(station.data_dir)
    recorder.start_session("C-7F3K", "calm-bells", {})
    recorder.record(EventType.STATION_STATUS, detail={"engine": "started"})
    recorder.record(EventType.STATION_STATUS, detail={
        "audio": "lost", "audio_problem": "stopped: the jack server shut down"})
    recorder.record(EventType.PRESS, "big-red", None)
    recorder.close()
    lost_at = next(event.t_wall for event in iterate_all(station.data_dir)
                   if (event.detail or {}).get("audio") == "lost")

    subscriber = subscriber_factory(mosquitto.port, [topics.health])

    def published_health(deliver: bool) -> dict[str, Any]:
        """What a new agent publishes on the health topic (after delivering the log)."""
        seen = len(subscriber.messages)
        agent = connected_agent(station, mosquitto.port)
        try:
            while deliver and agent.deliver_once():
                pass
            agent.publish_periodic()
            subscriber.wait_for(lambda topic, payload: len(subscriber.messages) > seen)
        finally:
            close(agent)
        health: dict[str, Any] = json.loads(subscriber.messages[seen][1])
        assert not schemas.problems("health", health)
        return health

    health = published_health(deliver=True)
    assert (health["audio"], health["audio_problem"], health["audio_since"]) == (
        "lost", "stopped: the jack server shut down", lost_at)
    # A new agent finds it in the log; an engine stopped cleanly says nothing of the audio.
    recorder = EventRecorder(station.data_dir)
    recorder.record(EventType.STATION_STATUS, detail={"engine": "stopped"})
    recorder.close()
    assert published_health(deliver=True)["audio"] == "lost"
    assert published_health(deliver=False)["audio_since"] == lost_at

    recorder = EventRecorder(station.data_dir)
    recorder.record(EventType.STATION_STATUS, detail={"audio": "playing"})
    recorder.close()
    health = published_health(deliver=True)
    assert (health["audio"], health["audio_problem"]) == ("playing", None)
    assert health["audio_since"] > lost_at
