"""The session console in a real browser, with real parts: Debian's chromium (Playwright), a
real `station dashboard`, a real mosquitto and a real `station run --simulate`; a real MQTT
subscriber watches every command that reaches the broker.

Waiting is on the page itself (Playwright's expectations, with time-outs), never a sleep.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import SIZES, screenshot_folder, serious_violations, sign_in
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.telemetry.conftest import StationProcess

pytestmark = pytest.mark.browser
CONSOLE = "/rooms/demo-site/room-1/console"


@pytest.fixture(autouse=True)
def patient_expectations() -> Iterator[None]:
    """What the page shows here has crossed a station, its agent, the broker and ingest: on a
    busy 2-core machine that can take longer than Playwright's 5 s default."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20000)
    yield
    expect.set_options(timeout=5000)


def _signed_in(chromium: Any, url: str, name: str, width: int = 800,
               height: int = 1280) -> tuple[Any, Any]:
    # axe-core is injected as an inline script: the dashboard's own CSP would refuse it.
    context = chromium.new_context(viewport={"width": width, "height": height},
                                   bypass_csp=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    sign_in(page, url, name, PASSWORD)
    page.wait_for_url(re.compile(r".*/rooms$"))
    return context, page


def _commands(subscriber: Any, name: str) -> list[dict[str, Any]]:
    return [json.loads(payload) for topic, payload, _ in list(subscriber.messages)
            if topic.endswith(f"/cmd/{name}")]


def test_a_therapist_runs_a_session_from_the_console_and_sees_it_live(
    dashboard_server: DashboardServer, live_station: StationProcess, chromium: Any,
    axe_source: str, mosquitto: Any, subscriber_factory: Any, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    commands = subscriber_factory(mosquitto.port, ["sensory/v1/+/+/cmd/#"])
    context, page = _signed_in(chromium, dashboard_server.url, "anna")
    card = page.locator("#room-demo-site--room-1")
    expect(card.locator("[data-session]")).to_contain_text("running", timeout=45000)
    card.get_by_role("link", name="Open the console of room-1").click()
    expect(page).to_have_url(dashboard_server.url + CONSOLE)
    expect(page.locator("#live-status")).to_have_text("Live: updates by itself")
    page.evaluate("window.notReloaded = true")
    summary = page.locator("#console-summary")
    feed = page.locator("#console-feed")
    expect(summary.locator("[data-client]")).to_have_text("C-7F3K")
    # The station's choices and ceiling: "50 % of this client's ceiling (−12 dBFS)".
    expect(summary.locator("[data-volume]")).to_have_text(
        "100 % of this client's ceiling (−12 dBFS)")
    expect(page.locator("#choose-client option")).to_have_text(["C-7F3K"])  # only anna's
    expect(page.locator("#choose-sound-set option")).to_contain_text(["calm-bells",
                                                                       "warm-strings"])
    expect(summary.locator("[data-recording]")).to_have_text("not recording")

    # The simulated station starts a session by itself: end it, then start one.
    session_status = page.locator("#status-session")
    expect(page.get_by_role("button", name="Start session")).to_be_hidden()
    page.get_by_role("button", name="End session").click()  # a stray tap ends nothing
    page.get_by_role("button", name="Tap again to end the session").click()
    expect(session_status).to_have_text("Done.")
    expect(summary.locator("[data-session]")).to_have_text("none running")
    expect(feed.locator("li").first).to_contain_text("Session ended")
    expect(page.get_by_role("button", name="Independent")).to_be_disabled()
    expect(page.get_by_role("button", name="End session")).to_be_hidden()
    page.get_by_role("button", name="Start session").click()
    expect(session_status).to_have_text("Done.")
    expect(summary.locator("[data-session]")).to_contain_text("running for")
    expect(feed.locator("li").first).to_contain_text("Session started with C-7F3K and "
                                                     "calm-bells")

    live_station.write("press big-red\n")
    expect(summary.locator('[data-input="big-red"]')).to_have_text("1")
    expect(feed.locator("li").first).to_contain_text("Press on big-red")
    live_station.write("release big-red\n")
    expect(feed.locator("li").first).to_contain_text(re.compile(r"Press on big-red, held \d"))

    page.get_by_label("Short note").fill("reached for the red button")
    page.get_by_role("button", name="Independent").click()
    expect(page.locator("#status-observe")).to_have_text("Done.")
    expect(feed.locator("li").first).to_contain_text(
        "Observation: independent · “reached for the red button”")

    # A cue on big-red (ticked first), answered by a press after the call.
    cue_form = page.locator("#cue-form")
    expect(cue_form.get_by_label("big-red")).to_be_checked()
    cue_form.get_by_label("Answer within").select_option("8")
    cue_form.get_by_label("Cue again").select_option("0")
    cue_form.get_by_role("button", name="Sound the cue").click()
    expect(page.locator("#status-cue")).to_have_text("Done.")
    expect(feed.locator("li").first).to_contain_text("Cue: answer on big-red within 8 s")
    assert _commands(commands, "cue")[-1]["targets"] == ["big-red"]
    assert _commands(commands, "cue")[-1]["window_seconds"] == 8
    threading.Event().wait(1.5)  # well past the call (0.75 s): a press now answers it
    live_station.write("press big-red\n")
    expect(feed.locator("li").first).to_contain_text(re.compile(
        r"Response on big-red after \d\.\d s"))
    live_station.write("release big-red\n")
    cue_form.get_by_label("big-red").uncheck()
    cue_form.get_by_role("button", name="Sound the cue").click()
    expect(page.locator("#status-cue")).to_have_text(
        "Tick the switch (or switches) that answer the cue first. Nothing was sent.")
    cue_form.get_by_label("big-blue").check()
    cue_form.get_by_role("button", name="Sound the cue").click()
    expect(page.locator("#status-cue")).to_have_text("Done.")
    cue_form.get_by_role("button", name="Stop waiting").click()
    expect(page.locator("#status-cue")).to_have_text("Done.")
    assert len(_commands(commands, "cancel_cue")) == 1
    # An activity: the client's usual one is chosen; another is started, then stopped.
    activity_form = page.locator("#activity-form")
    expect(activity_form.get_by_label("Or an activity")).to_have_value("play-when-you-hear")
    activity_form.get_by_label("Or an activity").select_option("call-and-response")
    activity_form.get_by_role("button", name="Start activity").click()
    expect(page.locator("#status-cue")).to_have_text("Done.")
    expect(feed.locator("li").first).to_contain_text(
        "Cue (call-and-response): answer on big-red within 8 s")
    activity_form.get_by_role("button", name="Stop activity").click()
    expect(page.locator("#status-cue")).to_have_text("Done.")
    assert [c["activity"] for c in _commands(commands, "start_activity")] == [
        "call-and-response"]

    # The station's own refusal, in its words: no cue waits any more.
    cue_form.get_by_role("button", name="Stop waiting").click()
    expect(page.locator("#status-cue")).to_have_text(
        "The station refused: no cue is waiting for an answer")

    # Recording: only the button that applies is offered, as the station says.
    recording_status = page.locator("#status-recording")
    expect(page.get_by_role("button", name="Stop recording")).to_be_hidden()
    page.get_by_role("button", name="Start recording").click()
    expect(recording_status).to_have_text("Done.")
    expect(summary.locator("[data-recording]")).to_contain_text("recording to ")
    expect(page.get_by_role("button", name="Start recording")).to_be_hidden()
    page.get_by_role("button", name="Stop recording").click()
    expect(recording_status).to_have_text("Done.")
    expect(summary.locator("[data-recording]")).to_have_text("not recording")
    expect(page.get_by_role("button", name="Stop recording")).to_be_hidden()

    # A volume the contract does not allow is refused here, and nothing reaches the broker.
    volume_form = page.locator("form[action$='/set_volume']")
    page.get_by_label("Volume, % of this client's ceiling").fill("300")
    volume_form.get_by_role("button", name="Set", exact=True).click()
    expect(volume_form.locator(".command-status")).to_have_text(
        "Volume: 300 % is not possible; choose 0 to 100 % of the client's ceiling (100 % is "
        "the ceiling, never louder). Nothing was sent.")
    page.get_by_label("Volume, % of this client's ceiling").fill("50")
    volume_form.get_by_role("button", name="Set", exact=True).click()
    expect(volume_form.locator(".command-status")).to_have_text("Done.")
    expect(summary.locator("[data-volume]")).to_have_text(
        "50 % of this client's ceiling (−12 dBFS)")
    volume_form.get_by_role("button", name="Louder (+10 %)").click()
    expect(summary.locator("[data-volume]")).to_have_text(
        "60 % of this client's ceiling (−12 dBFS)")
    expect(page.get_by_label("Volume, % of this client's ceiling")).to_have_value("60")
    assert [command["volume"] for command in _commands(commands, "set_volume")] == [0.5, 0.6]
    expect(feed.locator("li").first).to_contain_text("Volume 60 % of the client's ceiling")

    assert serious_violations(page, axe_source) == []
    folder = screenshot_folder(tmp_path)
    for name, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)
    page.set_viewport_size({"width": 800, "height": 1280})

    _others_are_kept_out(chromium, dashboard_server, commands)
    _staff_see_it_read_only(chromium, dashboard_server, axe_source, folder)
    _the_audit_names_every_command(chromium, dashboard_server)
    _a_client_not_hers_closes_her_console_live(chromium, dashboard_server, page)

    assert live_station.stop() == 0, live_station.log
    expect(summary.locator("[data-status]")).to_have_text(
        re.compile(r"^offline since \d\d:\d\d$"))
    expect(page.get_by_role("button", name="Start session")).to_be_disabled()
    expect(page.get_by_role("button", name="Set", exact=True)).to_be_disabled()
    expect(page.locator("#controls-off")).to_be_visible()
    expect(page.locator("#console")).to_have_attribute("data-online", "off")
    assert page.evaluate("window.notReloaded") is True
    # Asked anyway (a page left open elsewhere), the command is refused at once, not queued.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    refused = page.request.post(f"{dashboard_server.url}/rooms/demo-site/room-1/commands/"
                                "start_session", form={"csrf_token": token},
                                headers={"Accept": "application/json"})
    assert refused.status == 400
    assert refused.json()["error"].startswith("room-1 is offline, so nothing was sent "
                                              "(commands are never queued).")
    page.screenshot(path=str(folder / "console-offline-tablet.png"), full_page=True)
    # A stop of the dashboard does not wait for the open console's live stream.
    assert dashboard_server.stop() == 0, dashboard_server.process.log
    expect(page.locator("#live-status")).to_have_text("Live updates lost: reconnecting by "
                                                      "itself…")
    context.close()


def _others_are_kept_out(chromium: Any, server: DashboardServer, commands: Any) -> None:
    """bob's client is C-2M9Q; room-1 plays anna's C-7F3K."""
    context, page = _signed_in(chromium, server.url, "bob")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    sent_before = len(commands.messages)
    assert page.request.get(server.url + CONSOLE).status == 403
    assert page.request.get(server.url + CONSOLE + "/events").status == 403
    for name in ("start_session", "end_session", "select_client", "tag_observation"):
        response = page.request.post(
            f"{server.url}/rooms/demo-site/room-1/commands/{name}",
            form={"csrf_token": token, "client": "C-2M9Q", "tag": "prompted"},
            headers={"Accept": "application/json"})
        assert response.status in (403, 404), (name, response.status)
    response = page.goto(server.url + CONSOLE)
    assert response is not None and response.status == 403
    context.close()
    # anna's valid command goes out; bob's never did.
    context, page = _signed_in(chromium, server.url, "anna")
    page.goto(server.url + CONSOLE)
    page.get_by_role("button", name="Start recording").click()
    from playwright.sync_api import expect

    expect(page.locator("#status-recording")).to_contain_text(re.compile("Done|refused"))
    page.get_by_role("button", name="Stop recording").click()
    expect(page.locator("#status-recording")).to_contain_text(re.compile("Done|refused"))
    names = [topic.rsplit("/", 1)[-1] for topic, _, _ in list(commands.messages)[sent_before:]]
    assert "select_client" not in names and "tag_observation" not in names, names
    context.close()


def _staff_see_it_read_only(chromium: Any, server: DashboardServer, axe_source: str,
                            folder: Path) -> None:
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, server.url, "sam")
    page.goto(server.url + CONSOLE)
    expect(page.locator("#console-summary [data-client]")).to_have_text("C-7F3K")
    expect(page.locator("#console-feed")).to_contain_text("Press on big-red")
    expect(page.locator("#console-feed")).not_to_contain_text("Observation")
    expect(page.locator("main")).not_to_contain_text("reached for the red button")
    assert page.locator("form[data-command]").count() == 0
    expect(page.locator("#console")).to_have_attribute("data-online", "on")  # shown green
    assert serious_violations(page, axe_source) == []
    page.screenshot(path=str(folder / "console-staff-tablet.png"), full_page=True)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    response = page.request.post(f"{server.url}/rooms/demo-site/room-1/commands/end_session",
                                 form={"csrf_token": token})
    assert response.status == 403
    context.close()


def _the_audit_names_every_command(chromium: Any, server: DashboardServer) -> None:
    """Who, which station, which command, which client; never the note's words."""
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, server.url, "root")
    page.goto(server.url + "/admin/audit")
    rows = page.locator("tbody tr").filter(has_text="command")
    for command in ("end_session", "start_session", "stop_recording", "set_volume"):
        expect(rows.filter(has_text=f"demo-site/room-1: {command}").first).to_contain_text(
            "anna")
    tagged = rows.filter(has_text="demo-site/room-1: tag_observation")
    expect(tagged).to_have_count(1)
    expect(tagged).to_contain_text("C-7F3K")
    expect(tagged).to_contain_text('"note": "(26 characters)"')
    expect(page.locator("main")).not_to_contain_text("reached for the red button")
    context.close()


def _a_client_not_hers_closes_her_console_live(chromium: Any, server: DashboardServer,
                                               page: Any) -> None:
    """An admin switches room-1 to bob's client: anna's open console says so and its
    controls go off; switched back, it comes back by itself."""
    from playwright.sync_api import expect

    context, admin = _signed_in(chromium, server.url, "root")
    admin.goto(server.url + CONSOLE)
    admin.get_by_label("Client", exact=True).select_option("C-2M9Q")
    admin.locator("form[action$='/select_client']").get_by_role("button", name="Choose").click()
    expect(admin.locator("form[action$='/select_client'] .command-status")).to_have_text(
        "Done.")
    expect(page.locator("#console-summary")).to_have_text(
        "room-1 is in use with a client who is not assigned to you. Its console opens for "
        "that client's therapists.")
    expect(page.get_by_role("button", name="End session")).to_be_disabled()
    expect(page.locator("#console-feed li")).to_have_count(0)
    assert page.locator("main").inner_text().count("reached for the red button") == 0
    admin.get_by_label("Client", exact=True).select_option("C-7F3K")
    admin.locator("form[action$='/select_client']").get_by_role("button", name="Choose").click()
    expect(page.locator("#console-summary [data-client]")).to_have_text("C-7F3K")
    expect(page.get_by_role("button", name="End session")).to_be_enabled()
    expect(page.locator("#console-feed li").first).to_contain_text("Client C-7F3K")
    expect(page.locator("#console-feed")).not_to_contain_text("C-2M9Q")  # not hers
    expect(admin.locator("#console-feed")).to_contain_text("Client C-2M9Q")
    context.close()
