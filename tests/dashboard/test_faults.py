"""Faults a person at the dashboard must see or never notice, with real parts: a station whose
sound server goes away, a dashboard killed during presses.

Waiting is on the page or on the store (with time-outs), never a sleep that hopes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.contract.events import EventType
from station.dashboard.store import StationKey, Store
from station.telemetry.eventlog import iterate_all
from tests.dashboard.browser import sign_in
from tests.dashboard.conftest import wait_until
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.telemetry.conftest import StationProcess
from tests.test_jack_backend import start_jackd, start_named_jackd, stop_jackd


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

    jack_name, jackd = start_named_jackd()
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


def second_station(first: Path, name: str, data_dir: Path) -> Path:
    """A copy of the station file `first` (same folder, so the same clients and sound sets)
    as station `name` with its own event log."""
    import tomllib

    import tomli_w

    data = tomllib.loads(first.read_text(encoding="utf-8"))
    data["station"]["id"] = name
    data["station"]["data_dir"] = str(data_dir)
    path = first.with_name(f"{name}.toml")
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


class Presser:
    """Presses one input after the other on each station (100 ms held, 4 presses a second),
    on a thread of its own, and counts what it pressed."""

    INPUTS = ("big-red", "big-blue")

    def __init__(self, stations: dict[str, StationProcess]) -> None:
        self.stations = stations
        self.made = {name: dict.fromkeys(self.INPUTS, 0) for name in stations}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._press, daemon=True)

    def _press(self) -> None:
        number = 0
        while not self.stopping.is_set():
            which = self.INPUTS[number % len(self.INPUTS)]
            for station in self.stations.values():
                station.write(f"press {which}\n")
            self.stopping.wait(0.1)  # the hold of the press, not a wait for a result
            for name, station in self.stations.items():
                station.write(f"release {which}\n")
                self.made[name][which] += 1
            number += 1
            self.stopping.wait(0.15)

    def __enter__(self) -> Presser:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(10)


def logged_presses(data_dir: Path) -> list[tuple[str, int, str]]:
    """(id, seq, input) of every accepted press in a station's own event log."""
    return [(event.id, event.seq, event.input or "") for event in iterate_all(data_dir)
            if event.type == EventType.PRESS]


@pytest.mark.browser
def test_a_dashboard_killed_for_60_s_during_presses_shows_every_press_after_it_restarts(
    dashboard_server: DashboardServer, station_config: Any, mosquitto: Any, browser_page: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    first = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                            "audio.backend": "null", "telemetry.aggregate_seconds": 1.0})
    paths = {"room-1": first, "room-2": second_station(first, "room-2", tmp_path / "data-2")}
    data_dirs = {name: load_station(path).data_dir for name, path in paths.items()}
    stations = {name: StationProcess(["run", "--simulate", "--config", str(path)])
                for name, path in paths.items()}
    for station in stations.values():
        station.start()
    try:
        page = browser_page
        sign_in(page, dashboard_server.url, "anna", PASSWORD)
        cards = {name: page.locator(f"#room-demo-site--{name}") for name in stations}
        for card in cards.values():
            expect(card.locator("[data-session]")).to_contain_text("running", timeout=45000)
        with Presser(stations) as presser:
            for card in cards.values():  # presses reach the page before the dashboard dies
                expect(card.locator("[data-total]")).not_to_have_text("0")
            dashboard_server.process.kill()
            presser.stopping.wait(60)  # the dashboard is down for 60 s while presses go on
            dashboard_server.start()
            dashboard_server.wait_healthy()
            presser.stopping.wait(3)  # and a few presses after it is back
        made = presser.made

        store = Store.open(f"sqlite:///{dashboard_server.folder / 'data' / 'dashboard.sqlite3'}")
        try:
            for name in stations:
                pressed = logged_presses(data_dirs[name])
                assert len(pressed) == sum(made[name].values()), (
                    f"{name} recorded {len(pressed)} presses of {made[name]}")
                key = StationKey("demo-site", name)

                def stored(key: StationKey = key) -> list[tuple[str, int, str]]:
                    return [(event["id"], event["seq"], event.get("input", ""))
                            for event in store.events(key) if event["type"] == "press"]

                wait_until(lambda: stored() == pressed, timeout=60,  # noqa: B023
                           what=f"every press of {name} stored once")
        finally:
            store.close()
        # The page stayed open: its live stream reconnected by itself.
        for name, card in cards.items():
            expect(card.locator("[data-total]")).to_have_text(str(sum(made[name].values())))
            for which, count in made[name].items():
                expect(card.locator(f'[data-input="{which}"]')).to_have_text(str(count))
    finally:
        for station in stations.values():
            if station.running:
                station.stop()
