"""The client page and the session report in a real browser, with real parts: Debian's
chromium (Playwright), a real `station dashboard`, a real mosquitto and a real `station run
--simulate`. The outside world tags an observation and ends the session over MQTT, as the
session console does; the therapist reads the report, saves and changes the note, and
downloads the CSV and the PDF through the browser.

Waiting is on the page, the broker or the served files, with time-outs, never a sleep.
"""

from __future__ import annotations

import csv
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from station.contract.topics import Topics
from station.telemetry.eventlog import EventReader
from tests.conftest import REPO
from tests.dashboard.browser import SIZES, screenshot_folder, serious_violations, sign_in
from tests.dashboard.conftest import wait_until
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.telemetry.conftest import StationProcess

pytestmark = pytest.mark.browser
TOPICS = Topics("sensory/v1", "demo-site", "room-1")
NOTE = "reached across for the blue button"


@pytest.fixture(scope="module")
def charts_fetched() -> None:
    """uPlot in build/npm (pinned, integrity-checked), where the dashboard finds it."""
    fetch = REPO / "scripts" / "fetch-npm-assets.sh"
    if subprocess.run([str(fetch), "--check", str(REPO / "build" / "npm"), "uplot"],
                      timeout=30).returncode != 0:
        fetched = subprocess.run([str(fetch), str(REPO / "build" / "npm"), "uplot"],
                                 capture_output=True, text=True, timeout=300)
        assert fetched.returncode == 0, fetched.stderr


def _command(subscriber_factory: Any, port: int, name: str, **keys: Any) -> dict[str, Any]:
    """Publish `name` as the outside world does (mosquitto_pub) and wait for its ack."""
    watcher = subscriber_factory(port, [TOPICS.ack])  # subscribed before the command goes
    command_id = f"test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", TOPICS.command(name),
                    "-m", json.dumps({"id": command_id, **keys})], check=True, timeout=10)
    _, payload = watcher.wait_for(
        lambda topic, payload: json.loads(payload).get("id") == command_id, 30)
    ack: dict[str, Any] = json.loads(payload)
    assert ack["ok"], ack
    return ack


def _downloaded(page: Any, link_name: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_a_therapist_reads_the_report_saves_two_versions_and_downloads_what_it_shows(
    charts_fetched: None, dashboard_server: DashboardServer, live_station: StationProcess,
    mosquitto: Any, subscriber_factory: Any, chromium: Any, axe_source: str, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 800},
                                   accept_downloads=True)  # the dashboard's own CSP applies
    context.set_default_timeout(20000)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if message.type == "error" else None)
    sign_in(page, dashboard_server.url, "anna", PASSWORD)
    card = page.locator("#room-demo-site--room-1")
    expect(card.locator("[data-session]")).to_contain_text("running", timeout=45000)

    for count in (1, 2, 3):
        live_station.write("press big-red\n")
        expect(card.locator('[data-input="big-red"]')).to_have_text(str(count))
        live_station.write("release big-red\n")
    _command(subscriber_factory, mosquitto.port, "tag_observation", tag="independent",
             note=NOTE)
    _command(subscriber_factory, mosquitto.port, "select_sound_set", sound_set="drum-circle")
    live_station.write("press big-blue\nrelease big-blue\n")
    _command(subscriber_factory, mosquitto.port, "end_session")
    log = EventReader(tmp_path / "data")
    session, _ = log.latest_session() or ("", 0)
    recorded = log.session_events(session, log.backlog(0)[1])
    log.close()
    assert recorded[-1].type == "session_end", [event.type for event in recorded]

    report = f"{dashboard_server.url}/clients/C-7F3K/sessions/{session}"
    # The dashboard has the whole session once its events and the station's summary are in.
    wait_until(lambda: "session_end" in page.request.get(f"{report}/events.csv").text()
               and "as the station summarised" in page.request.get(report).text(), 30,
               "the ended session and its summary at the dashboard")

    page.goto(f"{dashboard_server.url}/clients/C-7F3K")
    expect(page.locator("#chart-rate canvas")).to_have_count(1)
    expect(page.locator("#chart-hold canvas")).to_have_count(1)
    expect(page.locator("#change-list")).to_contain_text("sound set changed to drum-circle")
    assert int(page.locator("#chart-rate").get_attribute("data-markers") or 0) >= 1
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    page.locator("#sessions tbody a").first.click()
    expect(page).to_have_url(report)

    expect(page.locator("#observations")).to_contain_text(NOTE)
    expect(page.locator("#observations")).to_contain_text("independent")
    draft = page.get_by_label("Note, drafted from the numbers")
    assert draft.input_value().startswith("C-7F3K took part in a")
    assert "4 presses were accepted" in draft.input_value()
    draft.fill("First version: 4 presses, one independent reach.")
    page.get_by_role("button", name="Save note").click()
    expect(page.get_by_role("status").last).to_have_text("Saved as version 1.")
    page.get_by_label("Note (version 1)").fill("Second version: calm, reached for blue.")
    page.get_by_role("button", name="Save note").click()
    expect(page.get_by_role("status").last).to_have_text("Saved as version 2.")
    versions = page.locator(".versions")
    expect(versions).to_contain_text("Version 2 (current), by anna")
    expect(versions).to_contain_text("Version 1, by anna")
    page.get_by_text("Show version 1").click()
    expect(versions).to_contain_text("First version: 4 presses, one independent reach.")

    folder = tmp_path / "downloads"
    folder.mkdir()
    events_csv = _downloaded(page, "Events of this session (CSV)", folder)
    with events_csv.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(row["id"], row["type"]) for row in rows] == [(e.id, e.type) for e in recorded]
    assert [row["note"] for row in rows if row["type"] == "observation"] == [NOTE]
    sessions_csv = _downloaded(page, "Every session of C-7F3K (CSV)", folder)
    with sessions_csv.open(newline="", encoding="utf-8") as file:
        [row] = list(csv.DictReader(file))
    assert (row["session"], row["accepted"], row["tagged"], row["independent"]) == (
        session, "4", "1", "1")
    pdf = _downloaded(page, "Report (PDF)", folder)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=30).stdout
    assert "Second version: calm, reached for blue." in text
    assert "The saved note, version 2, by anna" in text and NOTE in text
    assert "First version" not in text
    assert not [line for line in refused if "Content Security Policy" in line], refused

    shots = screenshot_folder(tmp_path)
    found = {}
    for name, path in (("client", "/clients/C-7F3K"), ("report", report.removeprefix(
            dashboard_server.url))):
        for size, (width, height) in SIZES.items():
            checking = chromium.new_context(viewport={"width": width, "height": height},
                                            bypass_csp=True)  # axe-core goes in inline
            viewer = checking.new_page()
            sign_in(viewer, dashboard_server.url, "anna", PASSWORD)
            viewer.wait_for_url(f"{dashboard_server.url}/rooms")
            viewer.goto(dashboard_server.url + path)
            if name == "client":
                expect(viewer.locator("#chart-active canvas")).to_have_count(1)
            viewer.screenshot(path=str(shots / f"history-{name}-{size}.png"), full_page=True)
            found[f"{name}-{size}"] = serious_violations(viewer, axe_source)
            checking.close()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(shots / "history-report-pdf")],
                   check=True, timeout=60)
    context.close()
    bad = {name: problems for name, problems in found.items() if problems}
    assert not bad, "\n".join(f"{name}: {problems}" for name, problems in bad.items())
