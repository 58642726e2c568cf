"""The dashboard's pages in-process on a real SQLite store: sign-in, roles, CSRF, the audit
log, and what the pages say when something is wrong. Every route is walked from the app's
own route table, so a route added later is checked too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from station.dashboard.live import LiveHub
from station.dashboard.store import (
    EventRecord,
    LiveRecord,
    StateRecord,
    StationKey,
    StatusRecord,
    Store,
)
from station.dashboard.web.stream import rooms_event
from tests.dashboard.helpers import event
from tests.dashboard.web_helpers import (
    PASSWORD,
    STATE_CHANGING,
    Web,
    login_token,
    make_web,
    routes,
    sign_in,
)

ROOM = StationKey("demo-site", "room-1")
PUBLIC = {"/login", "/health"}


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'dashboard.sqlite3'}")
    yield opened
    opened.close()


@pytest.fixture
def web(sqlite_store: Store) -> Web:
    made = make_web(sqlite_store)
    made.accounts.add_user("anna", "therapist", PASSWORD)
    made.accounts.add_user("sam", "staff", PASSWORD)
    made.accounts.add_user("root", "admin", PASSWORD)
    made.accounts.assign("anna", "C-7F3K")
    return made


def _playing(store: Store, client: str = "C-7F3K") -> None:
    """room-1 online, a session of `client` running, two presses of big-red counted."""
    store.write([EventRecord(ROOM, event(1, "session_start", client=client), 100.0)])
    store.write([
        StatusRecord(ROOM, "online", 100.0),
        StateRecord(ROOM, {"client": client, "sound_set": "calm-bells", "volume": 0.6,
                           "session": "3fa9c1d2e4b5"}, 101.0),
        LiveRecord(ROOM, "counts", {"session": "3fa9c1d2e4b5", "client": client,
                                    "counts": {"big-red": 2}}, 102.0),
    ])


def test_every_route_but_sign_in_and_health_needs_a_sign_in(web: Web) -> None:
    client = web.client()
    walked = list(routes(web.app))
    assert len(walked) >= 8
    for method, path, filled in walked:
        if path in PUBLIC:
            continue
        response = client.request(method, filled, headers={"Accept": "text/html"})
        if method == "GET":
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next=")
        else:  # refused before anything else: no token of a sign-in
            assert response.status_code in (401, 403), (method, path, response.status_code)
    assert client.get("/static/style.css").status_code == 200


def test_the_sign_in_cookie_is_httponly_strict_and_secure_over_https(web: Web) -> None:
    for https in (False, True):
        client = web.client(https=https)
        response = client.post("/login", data={"name": "anna", "password": PASSWORD,
                                               "csrf_token": login_token(client)})
        assert response.status_code == 303 and response.headers["location"] == "/rooms"
        cookie = next(value for value in response.headers.get_list("set-cookie")
                      if value.startswith("sensory_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert ("Secure" in cookie) is https
        stored = web.accounts.store.engine.connect().exec_driver_sql(
            "SELECT id FROM login_sessions").scalars().all()
        token = cookie.split(";")[0].split("=", 1)[1]
        assert token not in stored  # only its keyed hash is kept


def test_a_wrong_password_is_refused_in_words_and_audited(web: Web) -> None:
    client = web.client()
    response = client.post("/login", data={"name": "anna", "password": "wrong password",
                                           "csrf_token": login_token(client)})
    assert response.status_code == 401
    assert "That user name and password do not match. Check both and try again." in (
        response.text)
    [entry] = web.accounts.audit_entries(actions=["login_failed"])
    assert (entry.user_name, entry.address) == ("anna", "testclient")


def test_sign_ins_are_limited_per_account_and_per_address(web: Web) -> None:
    client = web.client()
    for _ in range(5):
        client.post("/login", data={"name": "anna", "password": "nope nope nope",
                                    "csrf_token": login_token(client)})
    limited = client.post("/login", data={"name": "anna", "password": PASSWORD,
                                          "csrf_token": login_token(client)})
    assert limited.status_code == 429
    assert ("Too many failed sign-ins for this account. Wait 15 minutes and try again, or ask "
            "an admin to set a new password.") in limited.text
    # Another account from the same address still may, until the address's limit.
    assert sign_in(client, "sam")
    for number in range(15):
        client.post("/login", data={"name": f"nobody-{number}", "password": "x" * 12,
                                    "csrf_token": login_token(client)})
    refused = client.post("/login", data={"name": "root", "password": PASSWORD,
                                          "csrf_token": login_token(client)})
    assert refused.status_code == 429
    assert "Too many failed sign-ins from this device." in refused.text


def test_a_change_without_its_csrf_token_is_refused_on_every_route(web: Web) -> None:
    client = web.client()
    token = sign_in(client, "root")
    changing = [(method, filled) for method, path, filled in routes(web.app)
                if method in STATE_CHANGING]
    assert ("POST", "/admin/assignments") in changing
    for method, filled in changing:
        for sent in ({}, {"csrf_token": "forged"}):
            response = client.request(method, filled, data=sent)
            assert response.status_code == 403, (method, filled, sent)
            assert "This form has expired or came from another page." in response.text
    # With the token (as a form field or a script's header) the change goes through.
    done = client.post("/admin/assignments", data={"user": "anna", "client": "C-2M9Q",
                                                   "csrf_token": token})
    assert done.status_code == 303
    assert client.post("/admin/assignments", headers={"X-CSRF-Token": token},
                       data={"user": "anna", "client": "C-2M9Q", "remove": "1"}
                       ).status_code == 303
    # The sign-in form's own token: a forged one is refused.
    assert client.post("/login", data={"name": "anna", "password": PASSWORD,
                                       "csrf_token": "forged"}).status_code == 403


def test_a_therapist_gets_403_or_404_on_every_route_of_a_client_not_theirs(web: Web) -> None:
    client = web.client()
    token = sign_in(client, "anna")
    client_routes = [(method, filled) for method, path, filled in routes(web.app)
                     if "{client}" in path or "{session_id}" in path]
    assert client_routes, "the app has no client routes to check"
    for method, filled in client_routes:
        response = client.request(method, filled, data={"csrf_token": token},
                                  headers={"Accept": "text/html"})
        assert response.status_code in (403, 404), (method, filled, response.status_code)
        assert "C-2M9Q" not in response.text.replace("No client C-2M9Q among", "")
    assert client.get("/clients/C-7F3K").status_code == 200


def test_staff_never_see_notes_or_client_pages(web: Web, sqlite_store: Store) -> None:
    _playing(sqlite_store)
    sqlite_store.write([EventRecord(ROOM, event(2, "observation", detail={
        "tag": "independent", "note": "reached for blue"}), 103.0)])
    client = web.client()
    token = sign_in(client, "sam")
    rooms = client.get("/rooms")
    assert rooms.status_code == 200 and "reached for blue" not in rooms.text
    for method, path, filled in routes(web.app):
        if "{client}" in path or "{session_id}" in path or path.startswith("/admin"):
            response = client.request(method, filled.replace("C-2M9Q", "C-7F3K"),
                                      data={"csrf_token": token},
                                      headers={"Accept": "text/html"})
            assert response.status_code == 403, (method, path)
    assert client.get("/clients").status_code == 403
    assert "client pages, notes and reports are for the client's therapist" in client.get(
        "/clients/C-7F3K").text.lower()


def test_the_rooms_page_shows_counts_for_a_therapists_client_only(
    web: Web, sqlite_store: Store
) -> None:
    _playing(sqlite_store)
    anna = web.client()
    sign_in(anna, "anna")
    page = anna.get("/rooms").text
    assert 'data-input="big-red">2<' in page and "C-7F3K" in page
    web.accounts.assign("anna", "C-7F3K", assigned=False)
    page = web.client()
    sign_in(page, "anna")
    text = page.get("/rooms").text
    assert "C-7F3K" not in text and 'data-input="big-red"' not in text
    assert "In use with a client who is not assigned to you." in text


def test_an_offline_station_says_since_when(web: Web, sqlite_store: Store) -> None:
    import time

    sqlite_store.write([StatusRecord(ROOM, "offline", time.mktime((2026, 12, 1, 14, 2, 0, 0,
                                                                    0, -1)))])
    client = web.client()
    sign_in(client, "sam")
    assert "offline since" in client.get("/rooms").text


def test_viewing_a_client_and_signing_in_are_in_the_audit_log(web: Web) -> None:
    anna = web.client()
    sign_in(anna, "anna")
    anna.get("/clients/C-7F3K")
    admin = web.client()
    sign_in(admin, "root")
    page = admin.get("/admin/audit").text
    assert "viewed client" in page and "C-7F3K" in page and "login" in page
    assert web.client().get("/admin/audit", headers={"Accept": "text/html"}
                            ).status_code == 303
    other = web.client()
    sign_in(other, "anna")
    assert other.get("/admin/audit", headers={"Accept": "text/html"}).status_code == 403


def test_with_the_database_not_ready_every_page_answers_and_says_why(
    sqlite_store: Store,
) -> None:
    web = make_web(sqlite_store, problem="connection refused")
    client = web.client()
    assert client.get("/login").status_code == 200
    assert "cannot be reached (connection refused)" in client.get("/login").text
    health = client.get("/health")
    assert health.status_code == 503
    assert "the database cannot be reached: connection refused" in health.json()["problems"]
    client.cookies.set("sensory_session", "whatever")
    page = client.get("/rooms", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert "The dashboard's database cannot be reached (connection refused)." in unescape(
        page.text)


def test_the_stream_event_carries_the_rooms_as_the_viewer_may_see_them(
    web: Web, sqlite_store: Store
) -> None:
    _playing(sqlite_store)
    client = web.client()
    sign_in(client, "anna")
    viewer = web.accounts.signed_in(client.cookies["sensory_session"], 3600)
    assert viewer is not None
    payload = rooms_event(web.context, viewer)
    [room] = payload["rooms"]  # type: ignore[misc]
    assert room["id"] == "room-demo-site--room-1" and 'data-input="big-red">2<' in room["html"]


def test_the_hub_wakes_a_waiting_stream_from_another_thread() -> None:
    hub = LiveHub()

    async def wait() -> int:
        hub.bind(asyncio.get_running_loop())
        threading.Timer(0.05, hub.changed).start()
        return await hub.wait_newer(0, timeout=5)

    # On a thread of its own: Playwright's sync API (the browser tests) keeps a loop here.
    woken: list[int] = []
    waiter = threading.Thread(target=lambda: woken.append(asyncio.run(wait())))
    waiter.start()
    waiter.join(10)
    assert woken == [1]


def test_each_role_gets_its_pages(web: Web, sqlite_store: Store) -> None:
    _playing(sqlite_store)
    expected = {"anna": {"/rooms": 200, "/clients": 200, "/clients/C-7F3K": 200,
                         "/admin/users": 403},
                "sam": {"/rooms": 200, "/clients": 403},
                "root": {"/rooms": 200, "/clients": 200, "/admin/users": 200,
                         "/admin/audit": 200, "/clients/C-7F3K": 403}}
    for name, pages in expected.items():
        client = web.client()
        sign_in(client, name)
        got = {path: client.get(path, headers={"Accept": "text/html"}).status_code
               for path in pages}
        assert got == pages, name
