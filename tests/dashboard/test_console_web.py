"""The session console's routes in-process, on a real SQLite store and a real mosquitto (the
`CommandDesk` publishes there): who may reach them, and what a form with a bad value gets
(the words, and nothing on the broker). The browser test (test_console.py) runs the whole
console against a real station."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from station.dashboard.commands import CommandDesk
from station.dashboard.ingest import IngestSettings
from station.dashboard.store import StateRecord, StationKey, StatusRecord, Store
from tests.dashboard.web_helpers import PASSWORD, Web, make_web, routes, sign_in

ROOM = StationKey("demo-site", "room-1")
CONSOLE = "/rooms/demo-site/room-1"


@pytest.fixture
def web(tmp_path: Path, mosquitto: Any) -> Iterator[Web]:
    store = Store.open(f"sqlite:///{tmp_path / 'dashboard.sqlite3'}")
    made = make_web(store)
    made.accounts.add_user("anna", "therapist", PASSWORD)
    made.accounts.add_user("bob", "therapist", PASSWORD)
    made.accounts.add_user("sam", "staff", PASSWORD)
    made.accounts.assign("anna", "C-7F3K")
    made.accounts.assign("bob", "C-2M9Q")
    store.write([StatusRecord(ROOM, "online", 100.0),
                 StateRecord(ROOM, {"client": "C-7F3K", "sound_set": "calm-bells",
                                    "volume": 0.6, "session": "s1"}, 101.0)])
    desk = CommandDesk(store, IngestSettings(host="127.0.0.1", port=mosquitto.port))
    desk.start()
    assert desk.connected.wait(10), "the desk did not connect"
    made.context.commands = desk
    yield made
    desk.stop()
    store.close()


def test_every_console_route_refuses_a_therapist_of_another_client_and_staffs_commands(
    web: Web, mosquitto: Any, subscriber_factory: Any,
) -> None:
    watching = subscriber_factory(mosquitto.port, ["sensory/v1/+/+/cmd/#"])
    bob = web.client()
    token = sign_in(bob, "bob")
    walked = 0
    for method, path, filled in routes(web.app):
        if "{station}" not in path:
            continue
        response = bob.request(method, filled, data={"csrf_token": token, "client": "C-2M9Q"},
                               headers={"Accept": "text/html"})
        assert response.status_code == 403, (method, path, response.status_code)
        assert "room-1 is in use with a client who is not assigned to you" in unescape(
            response.text)
        walked += 1
    assert walked >= 3, "the console's routes were not found"
    sam = web.client()
    token = sign_in(sam, "sam")
    assert sam.get(f"{CONSOLE}/console").status_code == 200
    refused = sam.post(f"{CONSOLE}/commands/end_session", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Staff see the console read-only" in unescape(refused.text)
    assert watching.messages == []


def test_a_form_with_a_bad_value_gets_the_words_and_nothing_reaches_the_broker(
    web: Web, mosquitto: Any, subscriber_factory: Any,
) -> None:
    watching = subscriber_factory(mosquitto.port, ["sensory/v1/+/+/cmd/#"])
    anna = web.client()
    token = sign_in(anna, "anna")
    bad = {
        "set_volume": ({"volume_percent": "300"}, "Volume: 300 % is not possible; choose 0 to "
                                                  "100 % of the client's ceiling"),
        "tag_observation": ({"note": "x" * 201}, "Note: 201 characters; a note has at most "
                                                 "200. Shorten it. Nothing was sent."),
        "select_client": ({"client": "C-2M9Q"}, "No client C-2M9Q among the clients assigned "
                                                "to you"),
        "select_sound_set": ({"sound_set": "Calm Bells"}, "Sound set: 'Calm Bells' is not a "
                                                          "sound set name"),
        "reload": ({}, "The console sends no command 'reload'."),
    }
    for name, (fields, words) in bad.items():
        response = anna.post(f"{CONSOLE}/commands/{name}", data={"csrf_token": token, **fields},
                             headers={"Accept": "application/json"})
        assert response.status_code in (400, 404), (name, response.text)
        assert words in unescape(response.text), (name, response.text)
    # Without the page's script a form gets the console again, saying what went wrong.
    page = anna.post(f"{CONSOLE}/commands/set_volume",
                     data={"csrf_token": token, "volume_percent": "loud"})
    assert page.status_code == 400
    assert "Volume: 'loud' is not a number" in unescape(page.text)
    page = anna.post(f"{CONSOLE}/commands/set_volume",
                     data={"csrf_token": token, "volume_percent": "nan"})
    assert "Volume: 'nan' is not a number" in unescape(page.text)
    # A valid command after them goes out, once; nothing before it did.
    sent = anna.post(f"{CONSOLE}/commands/set_volume",
                     data={"csrf_token": token, "volume_percent": "40"},
                     headers={"Accept": "application/json"})
    assert sent.status_code == 202, sent.text
    assert sent.json()["words"] == "Sent, waiting for the station…"
    watching.wait_for(lambda topic, payload: topic.endswith("/cmd/set_volume"))
    assert [(topic, payload) for topic, payload, _ in watching.messages] == [
        ("sensory/v1/demo-site/room-1/cmd/set_volume",
         f'{{"id": "{sent.json()["id"]}", "volume": 0.4}}'.encode())]
