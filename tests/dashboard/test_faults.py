"""Faults a person at the dashboard must see or never notice, with real parts: a station whose
sound server goes away, a dashboard killed during presses.

Waiting is on the page or on the store (with time-outs), never a sleep that hopes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.browser import sign_in
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.telemetry.conftest import StationProcess
from tests.test_jack_backend import start_jackd, stop_jackd


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.realtime
@pytest.mark.browser
def test_lost_audio_shows_on_the_room_card_with_its_time_and_goes_when_it_is_back(
    dashboard_server: DashboardServer, station_config: Any, mosquitto: Any, browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    jack_name = f"test-{uuid.uuid4().hex[:8]}"
    jackd = start_jackd(jack_name)
    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "jack", "telemetry.aggregate_seconds": 1.0})
    station = StationProcess(["run", "--simulate", "--config", str(path)],
                             environment={"JACK_DEFAULT_SERVER": jack_name})
    station.start()
    try:
        page = browser_page
        sign_in(page, dashboard_server.url, "anna", PASSWORD)
        card = page.locator("#room-demo-site--room-1")
        expect(card.locator("[data-session]")).to_contain_text("running", timeout=45000)
        problems = card.locator(".problems")
        expect(problems).to_have_count(0)
        page.evaluate("window.notReloaded = true")

        stop_jackd(jackd)  # the sound card goes away
        audio_lost = re.compile(r"Audio lost since \d\d:\d\d: the sound server \(jack\) shut "
                                r"down\. Presses are still counted")
        expect(problems).to_contain_text(audio_lost, timeout=30000)
        station.write("press big-red\n")  # still counted while the audio is lost
        expect(card.locator('[data-input="big-red"]')).to_have_text("1")
        station.write("release big-red\n")

        jackd = start_jackd(jack_name)  # and comes back (the engine retries at 1, 2, 4 … s)
        expect(problems).to_have_count(0, timeout=60000)
        assert page.evaluate("window.notReloaded") is True
    finally:
        if station.running:
            station.stop()
        stop_jackd(jackd)
