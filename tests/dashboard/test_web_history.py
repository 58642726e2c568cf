"""The client page, the session report page, session notes and the downloads, in-process on a
real SQLite store (FastAPI's test client): what the therapist sees, saves and downloads, and
that it is the same in the page, the CSV and the PDF."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from station.dashboard.reports.notes import MAX_NOTE_CHARACTERS
from station.dashboard.store import Store
from station.dashboard.web.app import create_app
from station.dashboard.web.assets import UPLOT_VERSION
from station.telemetry.aggregate import session_summary
from tests.conftest import REPO
from tests.dashboard.report_events import PART, SessionScript, pages_text, write
from tests.dashboard.web_helpers import PASSWORD, Web, make_web, sign_in

REPORT = f"/clients/C-7F3K/sessions/{PART.session_id}"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'dashboard.sqlite3'}")
    yield opened
    opened.close()


def _session() -> SessionScript:
    script = SessionScript().start()
    script.at(5.0).press("big-red", 320.0)
    script.at(6.0).reject("big-red", "lockout")
    script.at(9.0).press("big-blue", 450.0)
    script.at(12.0).observe("independent", "reached across for the blue button")
    script.at(30.0).sound("drum-circle")
    script.at(40.0).press("big-red", 600.0)
    return script.at(120.0).end()


@pytest.fixture
def web(sqlite_store: Store) -> Web:
    made = make_web(sqlite_store)
    made.accounts.add_user("anna", "therapist", PASSWORD)
    made.accounts.add_user("bea", "therapist", PASSWORD)
    made.accounts.add_user("sam", "staff", PASSWORD)
    made.accounts.assign("anna", "C-7F3K")
    made.accounts.assign("bea", "C-7F3K")
    made.accounts.assign("anna", "C-2M9Q")
    script = _session()
    write(sqlite_store, script.events, summary=session_summary(script.events, 10.0))
    other = SessionScript(client="C-2M9Q", session="s-of-c-2m9q", first_seq=script.seq).start()
    write(sqlite_store, other.at(60.0).end().events)
    return made


def _signed_in(web: Web, name: str = "anna") -> tuple[TestClient, str]:
    client = web.client()
    return client, sign_in(client, name)


def _with_charts(web: Web, tmp_path: Path) -> Web:
    """`web` with uPlot's files in place (their content does not matter here)."""
    dist = tmp_path / "npm" / f"uplot-{UPLOT_VERSION}" / "dist"
    dist.mkdir(parents=True)
    (dist / "uPlot.iife.min.js").write_text("/* uPlot */\n")
    (dist / "uPlot.min.css").write_text("/* uPlot */\n")
    return replace(web, app=create_app(replace(web.context, assets_dir=tmp_path / "npm")))


def _textarea(page: str) -> str:
    found = re.search(r'<textarea id="note-text"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page
    return unescape(found[1])


def _save(client: TestClient, token: str, text: str, based_on: int) -> object:
    return client.post(f"{REPORT}/note", data={"csrf_token": token, "text": text,
                                               "based_on": str(based_on)})


def test_the_report_page_shows_the_session_and_drafts_the_note_from_its_numbers(
    web: Web,
) -> None:
    client, _ = _signed_in(web)
    response = client.get(REPORT)
    assert response.status_code == 200
    page = unescape(response.text)
    for shown in ("C-7F3K", "25 November 2025", "2 min", "calm-bells", "drum-circle",
                  "reached across for the blue button", "too soon after the last press",
                  "as the station summarised the session", "<svg class=\"timeline\""):
        assert shown in page, shown
    draft = _textarea(response.text)
    assert draft.startswith("C-7F3K took part in a 2-minute session with the calm-bells and "
                            "drum-circle sound sets. 3 presses were accepted (1.5 per minute)")
    assert "no note saved yet" in page
    [entry] = web.accounts.audit_entries(actions=["viewed_report"])
    assert (entry.user_name, entry.client) == ("anna", "C-7F3K")


def test_saved_notes_are_versions_with_who_and_when_and_none_is_overwritten(web: Web) -> None:
    client, token = _signed_in(web)
    first = _save(client, token, "First words.\nSecond line.", 0)
    assert first.status_code == 303 and first.headers["location"].endswith("?saved=1#note")
    page = client.get(first.headers["location"])
    assert "Saved as version 1." in page.text
    assert _textarea(page.text) == "First words.\nSecond line."
    bea, bea_token = _signed_in(web, "bea")
    assert _save(bea, bea_token, "Bea's words.", 1).status_code == 303
    shown = unescape(client.get(REPORT).text)
    assert "Version 2 (current), by bea" in shown and "Version 1, by anna" in shown
    assert "Bea's words." in shown and "First words." in shown
    # anna saves from the version she had open: refused, her text kept, bea's shown.
    stale = _save(client, token, "anna's late edit", 1)
    assert stale.status_code == 422
    assert "Someone saved version 2 of this note while you were writing" in unescape(stale.text)
    assert _textarea(stale.text) == "anna's late edit"
    assert [e.detail for e in web.accounts.audit_entries(actions=["saved_note"])] == [
        f"session {PART.session_id}, version 2", f"session {PART.session_id}, version 1"]


@pytest.mark.parametrize(("text", "problem"), [
    ("   \n ", "The note is empty."),
    ("x" * (MAX_NOTE_CHARACTERS + 7), f"The note has {MAX_NOTE_CHARACTERS + 7:,} characters; "
     f"at most {MAX_NOTE_CHARACTERS:,} fit. Shorten it by 7 and save again."),
    ("Calm start.\nThen a bell\x07 rang <b>twice</b>", "invisible control character (code "
     "0x07) on line 2"),
])
def test_a_note_that_cannot_be_saved_says_what_to_fix_and_keeps_every_character(
    web: Web, text: str, problem: str,
) -> None:
    client, token = _signed_in(web)
    response = _save(client, token, text, 0)
    assert response.status_code == 422
    assert problem in unescape(response.text)
    assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
    assert _textarea(response.text) == text
    assert web.accounts.audit_entries(actions=["saved_note"]) == []
    assert "no note saved yet" in client.get(REPORT).text


def test_the_downloads_hold_what_the_page_shows_and_are_audited(
    web: Web, sqlite_store: Store,
) -> None:
    client, token = _signed_in(web)
    draft_pdf = client.get(f"{REPORT}/report.pdf")
    assert draft_pdf.headers["content-type"] == "application/pdf"
    text = " ".join(pages_text(draft_pdf.content))
    assert "Objective data" in text and "no note has been saved for this session yet" in text
    assert _save(client, token, "Reached for blue twice; calm throughout.", 0).status_code == 303
    text = " ".join(pages_text(client.get(f"{REPORT}/report.pdf").content))
    assert "Session note" in text and "Reached for blue twice; calm throughout." in text
    assert "The saved note, version 1, by anna" in text
    assert "reached across for the blue button" in text

    events = client.get(f"{REPORT}/events.csv")
    assert events.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="C-7F3K-3fa9c1d2e4b5-events.csv"' in events.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(events.text, newline="")))
    assert [row["id"] for row in rows] == [event.id for event in _ids(sqlite_store)]
    assert [row["note"] for row in rows if row["type"] == "observation"] == [
        "reached across for the blue button"]

    sessions = list(csv.DictReader(io.StringIO(client.get(
        "/clients/C-7F3K/sessions.csv").text, newline="")))
    [row] = sessions
    assert (row["session"], row["accepted"], row["not_counted_reasons"]) == (
        PART.session_id, "3", "1 too soon after the last press")
    page = unescape(client.get("/clients/C-7F3K").text)
    assert "1 too soon after the last press" in page and ">3<" in page
    assert [entry.detail for entry in web.accounts.audit_entries(actions=["exported"])] == [
        "sessions.csv (1 session)", f"events.csv of session {PART.session_id} (11 events)",
        f"report.pdf of session {PART.session_id} (saved note version 1)",
        f"report.pdf of session {PART.session_id} (drafted paragraph)"]


def _ids(store: Store) -> list[object]:
    from sqlalchemy import select

    from station.dashboard.store.models import Event

    with store.transaction() as db:
        return list(db.scalars(select(Event).where(Event.session_id == PART.session_id)
                               .order_by(Event.seq)))


def test_a_session_of_another_client_is_not_found_under_this_one(web: Web) -> None:
    client, token = _signed_in(web)
    for path in ("/clients/C-7F3K/sessions/s-of-c-2m9q",
                 "/clients/C-7F3K/sessions/s-of-c-2m9q/events.csv",
                 "/clients/C-7F3K/sessions/s-of-c-2m9q/report.pdf",
                 "/clients/C-7F3K/sessions/no-such-session"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404, path
        assert "has reached the dashboard" in response.text
    assert _save(client, token, "words", 0).status_code == 303
    assert client.post("/clients/C-7F3K/sessions/s-of-c-2m9q/note", data={
        "csrf_token": token, "text": "words", "based_on": "0"}).status_code == 404
    assert client.get("/clients/C-2M9Q/sessions/s-of-c-2m9q").status_code == 200


def test_the_client_page_says_how_to_install_the_charts_when_they_are_missing(
    web: Web,
) -> None:
    client, _ = _signed_in(web)
    page = unescape(client.get("/clients/C-7F3K").text)
    assert "Charts are not installed on this dashboard; the table below has the same " in page
    assert "scripts/fetch-npm-assets.sh" in page and "uPlot" not in page
    assert f'href="{REPORT}"' in page and "Download sessions (CSV)" in page
    assert "sound set changed to drum-circle" in page


def test_the_client_page_carries_its_chart_data_and_loads_upLot_only_where_it_charts(
    web: Web, tmp_path: Path,
) -> None:
    charting = _with_charts(web, tmp_path)
    client, _ = _signed_in(charting)
    page = client.get("/clients/C-7F3K").text
    assert '<script src="/vendor/uplot/uPlot.iife.min.js" defer></script>' in page
    assert "<script>" not in page  # no inline script: the data is a JSON block
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page,
                      re.S)
    assert found
    data = json.loads(found[1])
    assert [chart["id"] for chart in data["charts"]] == [
        "rate", "active", "stretch", "independent", "not-counted", "hold"]
    assert data["charts"][0]["series"][0]["values"] == [1.5]
    assert data["charts"][3]["series"][0]["values"] == [100.0]
    assert [marker["label"] for marker in data["markers"]] == ["sound set changed to drum-circle"]
    assert client.get("/vendor/uplot/uPlot.iife.min.js").text == "/* uPlot */\n"
    for other in ("/rooms", REPORT):
        assert "uplot" not in client.get(other).text.lower()


def test_the_pinned_upLot_is_the_one_fetch_npm_assets_fetches() -> None:
    script = (REPO / "scripts" / "fetch-npm-assets.sh").read_text(encoding="utf-8")
    assert re.search(rf'^\s+"uplot {re.escape(UPLOT_VERSION)} sha512-', script, re.M)


def test_staff_and_admins_get_403_on_every_report_note_and_download(web: Web) -> None:
    web.accounts.add_user("root", "admin", PASSWORD)
    for name in ("sam", "root"):
        client, token = _signed_in(web, name)
        for method, path in (("GET", "/clients/C-7F3K"), ("GET", "/clients/C-7F3K/sessions.csv"),
                             ("GET", REPORT), ("GET", f"{REPORT}/report.pdf"),
                             ("GET", f"{REPORT}/events.csv"), ("POST", f"{REPORT}/note")):
            response = client.request(method, path, headers={"Accept": "text/html"},
                                      data={"csrf_token": token, "text": "words",
                                            "based_on": "0"} if method == "POST" else None)
            assert response.status_code == 403, (name, path)
            assert "reached across" not in response.text and "C-7F3K took part" not in (
                response.text)
    assert web.accounts.audit_entries(actions=["saved_note", "exported", "viewed_report"]) == []


def test_a_session_played_on_two_stations_is_reported_per_station(
    web: Web, sqlite_store: Store,
) -> None:
    from station.dashboard.store import StationKey

    other = StationKey("demo-site", "room-2")
    script = SessionScript(first_seq=1).start()
    script.at(3.0).press("head-switch", 700.0)
    write(sqlite_store, script.at(50.0).end().events, station=other)
    client, _ = _signed_in(web)
    first = unescape(client.get(REPORT).text)
    assert "played this session on 2 stations" in first and "big-red" in first
    assert f'href="{REPORT}?station=demo-site/room-2"' in first
    second = client.get(f"{REPORT}?station=demo-site/room-2")
    assert second.status_code == 200 and "head-switch" in second.text
    assert f'action="{REPORT}/note?station=demo-site/room-2"' in second.text
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"{REPORT}/events.csv?station=demo-site/room-2").text, newline="")))
    assert {row["station"] for row in rows} == {"demo-site/room-2"} and len(rows) == 4
    assert client.get(f"{REPORT}?station=demo-site/room-9").status_code == 404
    page = client.get("/clients/C-7F3K").text
    assert f'href="{REPORT}?station=demo-site/room-2"' in page


def test_the_client_page_charts_and_tabulates_how_far_the_client_reached_on_a_sensor(
    sqlite_store: Store, tmp_path: Path,
) -> None:
    from station.contract.events import EventType

    web = make_web(sqlite_store)
    web.accounts.add_user("anna", "therapist", PASSWORD)
    web.accounts.assign("anna", "C-7F3K")
    seq = 1
    for number, peaks in enumerate(((0.35, 0.5), (0.42, 0.61, 0.6))):
        script = SessionScript(session=f"sensor-session-{number}", first_seq=seq).start()
        script.seconds = 86400.0 * number + 1.0
        for step, peak in enumerate(peaks):
            script.at(script.seconds + 2.0 + step).add(
                EventType.MOVEMENT, "squeeze", hold_ms=800.0, detail={"peak": peak})
        script.at(script.seconds + 30.0).end()
        write(sqlite_store, script.events, summary=session_summary(script.events, 10.0))
        seq = script.seq
    charting = _with_charts(web, tmp_path)
    client, _ = _signed_in(charting)
    page = client.get("/clients/C-7F3K").text
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page,
                      re.S)
    assert found
    [chart] = [chart for chart in json.loads(found[1])["charts"] if chart["id"] ==
               "sensor-squeeze"]
    assert chart["title"] == "Sensor squeeze: how far the client reached"
    assert [line["values"] for line in chart["series"]] == [[50.0, 61.0], [35.0, 42.0]]
    cells = [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in
             re.findall(r'<td class="sensors">(.*?)</td>', page, re.S)]
    assert cells == ["squeeze: 3 movements, up to 61 %",
                     "squeeze: 2 movements, up to 50 %"], "newest session first"
