"""Variable sensors on the dashboard, in a real browser with real parts (Debian's chromium,
`station dashboard`, mosquitto, `station run --simulate` with a squeeze pad on a simulated
MCP3008): the console calibrates the client's range, the feed says what the sensor did, and
the session report (page and PDF) tells its movements and range."""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import screenshot_folder, serious_violations, sign_in
from tests.dashboard.report_events import pages_text
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.telemetry.conftest import StationProcess

pytestmark = pytest.mark.browser
CONSOLE = "/rooms/demo-site/room-1/console"


@pytest.fixture
def sensor_station(station_config: Any, mosquitto: Any) -> Iterator[StationProcess]:
    import tomli_w

    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "null", "telemetry.aggregate_seconds": 1.0})
    data = tomllib.loads(path.read_text())
    data["inputs"].append({"name": "squeeze", "kind": "analog", "adc": "mcp3008",
                           "channel": 0, "slot": 2})
    path.write_text(tomli_w.dumps(data))
    station = StationProcess(["run", "--simulate", "--config", str(path)])
    station.start()
    yield station
    if station.running:
        station.stop()


def test_a_therapist_calibrates_a_squeeze_pad_and_reads_its_use_in_the_report(
    dashboard_server: DashboardServer, sensor_station: StationProcess, chromium: Any,
    axe_source: str, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20000)
    context = chromium.new_context(viewport={"width": 800, "height": 1280}, bypass_csp=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    sign_in(page, dashboard_server.url, "anna", PASSWORD)
    page.wait_for_url(re.compile(r".*/rooms$"))
    card = page.locator("#room-demo-site--room-1")
    expect(card.locator("[data-session]")).to_contain_text("running", timeout=45000)
    card.get_by_role("link", name="Open the console of room-1").click()
    expect(page).to_have_url(dashboard_server.url + CONSOLE)
    feed = page.locator("#console-feed")
    panel = page.locator("section", has=page.locator("#sensors-heading"))
    expect(panel.get_by_role("button", name="Calibrate squeeze")).to_be_visible()
    expect(panel.get_by_label("squeeze, a pressure sensor: calibrate for")).to_have_value("5")

    # The client rests on the pad (0.2 of the sensor), then squeezes as far as they can.
    sensor_station.write("set squeeze 0.2\n")
    threading.Event().wait(0.5)
    panel.get_by_label("squeeze, a pressure sensor: calibrate for").select_option("3")
    panel.get_by_role("button", name="Calibrate squeeze").click()
    expect(page.locator("#status-sensors")).to_have_text("Done.")
    for value in ("0.45", "0.6", "0.35", "0.2", "0.2"):
        sensor_station.write(f"set squeeze {value}\n")
        threading.Event().wait(0.5)
    expect(feed.locator("li", has_text="Calibrated squeeze")).to_have_text(re.compile(
        r"Calibrated squeeze: the client's range is (19|20|21) % to (59|60|61) % of the "
        "sensor"))
    # In the client's range now, 0.45 of the sensor is a firm squeeze: a press and a movement.
    sensor_station.write("set squeeze 0.45\n")
    expect(feed.locator("li").first).to_contain_text("Press on squeeze")
    sensor_station.write("set squeeze 0.2\n")
    expect(feed.locator("li", has_text="Movement on squeeze").first).to_contain_text(
        re.compile(r"Movement on squeeze, reaching \d+ % of the client's range"))
    assert serious_violations(page, axe_source) == []
    folder = screenshot_folder(tmp_path)
    page.screenshot(path=str(folder / "console-sensors-tablet.png"), full_page=True)

    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Tap again to end the session").click()
    expect(page.locator("#status-session")).to_have_text("Done.")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{dashboard_server.url}/clients/C-7F3K")
    expect(page.locator("#chart-sensor-squeeze canvas")).to_have_count(1)
    expect(page.locator("#sessions tbody tr td.sensors").first).to_contain_text(re.compile(
        r"squeeze: \d+ movements?, up to \d+ %"))
    assert serious_violations(page, axe_source) == []
    page.screenshot(path=str(folder / "client-sensors-desktop.png"), full_page=True)
    page.locator("#sessions tbody tr").first.locator("th a").click()
    sensors = page.locator("#sensors")
    expect(sensors).to_contain_text(re.compile(
        r"squeeze\s*\d+ movements?, reaching \d+ %( to \d+ %)? of the client's range"))
    draft = page.get_by_label("Note, drafted from the numbers").input_value()
    assert "On the squeeze sensor: " in draft
    assert serious_violations(page, axe_source) == []
    page.screenshot(path=str(folder / "report-sensors-desktop.png"), full_page=True)
    pdf = page.request.get(page.url + "/report.pdf")
    assert pdf.status == 200
    (folder / "report-sensors.pdf").write_bytes(pdf.body())
    text = " ".join(pages_text(pdf.body()))
    assert "Sensors" in text and "of the client's range" in text
    context.close()
    expect.set_options(timeout=5000)
