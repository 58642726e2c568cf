"""Commands from the dashboard (`CommandDesk`) on a real mosquitto, with the stations' status
in a real SQLite store filled by a real ingest: what is refused before anything is sent, what
is sent once, and how each command ends (done, refused in the station's words, unanswered).
The stations here are the outside world's `mosquitto_pub`-style publishers: a station that
never answers is the point of the time-out test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.dashboard.commands import (
    DONE,
    REFUSED,
    SENT,
    UNANSWERED,
    CommandDesk,
    CommandRefused,
)
from station.dashboard.ingest import IngestSettings
from station.dashboard.store import Store
from station.dashboard.store.records import StationKey
from tests.dashboard.conftest import Publisher, wait_until

ROOT = "sensory/v1"
SILENT = StationKey("demo-site", "room-9")  # online, but nothing answers its commands
AWAY = StationKey("demo-site", "room-8")  # offline (its last will)


@pytest.fixture
def desk(tmp_path: Path, mosquitto: Any, ingest_factory: Any,
         publisher: Publisher) -> Iterator[CommandDesk]:
    store = Store.open(f"sqlite:///{tmp_path / 'dashboard.sqlite3'}")
    ingest_factory(store)
    publisher.publish(f"{ROOT}/demo-site/room-9/status", "online", retain=True)
    publisher.publish(f"{ROOT}/demo-site/room-8/status", "offline", retain=True)
    wait_until(lambda: {view.station: view.status for view in store.stations()}
               == {SILENT: "online", AWAY: "offline"}, what="both stations stored")
    made = CommandDesk(store, IngestSettings(host="127.0.0.1", port=mosquitto.port),
                       answer_within=1.0)
    made.start()
    assert made.connected.wait(10), "the desk did not connect"
    yield made
    made.stop()
    store.close()


def test_a_command_that_breaks_its_schema_or_goes_to_an_offline_station_is_never_sent(
    desk: CommandDesk, mosquitto: Any, subscriber_factory: Any,
) -> None:
    watching = subscriber_factory(mosquitto.port, [f"{ROOT}/+/+/cmd/#"])
    with pytest.raises(CommandRefused, match=r"^volume: 3 is greater than the maximum of 1\. "
                                             r"Nothing was sent\.$"):
        desk.send("anna", SILENT, "set_volume", {"volume": 3})
    with pytest.raises(CommandRefused, match=r"^numbers must be finite\. Nothing was sent"):
        desk.send("anna", SILENT, "set_volume", {"volume": float("nan")})
    with pytest.raises(CommandRefused, match=r"^payload: needs at least one of tag, note"):
        desk.send("anna", SILENT, "tag_observation", {})
    with pytest.raises(CommandRefused, match="The dashboard sends no command 'replay'"):
        desk.send("anna", SILENT, "replay", {"from_seq": 1, "to_seq": 2})
    with pytest.raises(CommandRefused, match=r"^room-8 is offline, so nothing was sent "
                                             r"\(commands are never queued\)"):
        desk.send("anna", AWAY, "start_session", {})
    with pytest.raises(CommandRefused, match="No station room-7 at demo-site"):
        desk.send("anna", StationKey("demo-site", "room-7"), "start_session", {})
    # One valid command after them: once it has arrived, nothing before it can still come.
    sent = desk.send("anna", SILENT, "set_volume", {"volume": 0.5})
    watching.wait_for(lambda topic, payload: topic.endswith("/cmd/set_volume"))
    published = [(topic, json.loads(payload)) for topic, payload, _ in watching.messages]
    assert published == [(f"{ROOT}/demo-site/room-9/cmd/set_volume",
                          {"id": sent.id, "volume": 0.5})]
    assert not any(retained for _, _, retained in watching.messages)


def test_each_command_ends_done_refused_in_the_stations_words_or_unanswered(
    desk: CommandDesk, publisher: Publisher,
) -> None:
    answered = desk.send("anna", SILENT, "start_session", {})
    refused = desk.send("anna", SILENT, "stop_recording", {})
    silent = desk.send("anna", SILENT, "end_session", {})
    assert answered.outcome == SENT and answered.words() == "Sent, waiting for the station…"
    wait_until(lambda: desk.view.command(answered.id), what="the command tracked")
    ack = f"{ROOT}/demo-site/room-9/ack"
    publisher.publish(ack, b"not json")  # ignored: not an ack
    publisher.publish(ack, {"id": answered.id, "command": "start_session", "ok": True,
                            "t_wall": 1.0, "state": {"client": "C-7F3K", "sound_set": "calm-bells",
                                                     "volume": 1.0, "session": "s1",
                                                     "recording": ""}})
    publisher.publish(ack, {"id": refused.id, "command": "stop_recording", "ok": False,
                            "t_wall": 1.0, "error": "not recording"})
    # Another station's ack with the same id changes nothing of ours.
    publisher.publish(f"{ROOT}/demo-site/room-8/ack", {"id": silent.id, "command": "end_session",
                                                       "ok": True, "t_wall": 1.0})

    def outcome(command_id: str) -> str:
        tracked = desk.view.command(command_id)
        return tracked.outcome if tracked else ""

    wait_until(lambda: outcome(answered.id) == DONE, what="done")
    wait_until(lambda: outcome(refused.id) == REFUSED, what="refused")
    found = desk.view.command(refused.id)
    assert found is not None and found.words() == "The station refused: not recording"
    assert desk.view.engine_states[SILENT]["session"] == "s1"
    wait_until(lambda: outcome(silent.id) == UNANSWERED, timeout=5, what="given up")
    late = desk.view.command(silent.id)
    assert late is not None and late.words(1.0).startswith(
        "The station did not answer within 1 s. It may not have done it")
    assert [tracked.id for tracked in desk.view.commands[SILENT]] == [
        silent.id, refused.id, answered.id]  # newest first


def test_the_stations_choices_are_kept_and_a_malformed_one_is_ignored(
    desk: CommandDesk, publisher: Publisher,
) -> None:
    choices = {"clients": [{"client": "C-7F3K", "volume_ceiling_dbfs": -12.0}],
               "sound_sets": ["calm-bells", "drum-circle"]}
    publisher.publish(f"{ROOT}/demo-site/room-8/choices", {"clients": [{"client": "Anna"}],
                                                           "sound_sets": []}, retain=True)
    publisher.publish(f"{ROOT}/demo-site/room-9/choices", choices, retain=True)
    wait_until(lambda: SILENT in desk.view.choices, what="the choices kept")
    assert desk.view.choices == {SILENT: choices}
