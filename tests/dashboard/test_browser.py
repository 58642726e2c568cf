"""The dashboard in a real browser, with real parts: Debian's chromium (Playwright), a real
`station dashboard` process, a real mosquitto and a real `station run --simulate`.

Waiting is on the page itself (Playwright's expectations, with time-outs), never a sleep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.dashboard.web.app import create_app
from tests.dashboard.browser import SIZES, screenshot_folder, serious_violations, sign_in
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.telemetry.conftest import StationProcess

pytestmark = pytest.mark.browser
PAGE_LIMIT_BYTES = 300 * 1024


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    # axe-core is injected as an inline script: the dashboard's own CSP would refuse it.
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    yield page
    context.close()


def dashboard_routes() -> list[tuple[str, str]]:
    """(method, path) of every route, from the FastAPI app itself."""
    app = create_app(None)  # type: ignore[arg-type]  (routes only: no request is served)
    return [(method.upper(), path) for path, operations in app.openapi()["paths"].items()
            for method in operations]


def test_a_press_on_the_station_changes_the_count_without_a_reload_and_offline_shows_since(
    dashboard_server: DashboardServer, live_station: StationProcess, browser_page: Any,
    axe_source: str, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    sign_in(page, dashboard_server.url, "anna", PASSWORD)
    expect(page).to_have_url(f"{dashboard_server.url}/rooms")
    card = page.locator("#room-demo-site--room-1")
    expect(card.locator("[data-session]")).to_contain_text("running", timeout=45000)
    expect(card.locator("[data-client]")).to_have_text("C-7F3K")
    expect(page.locator("#live-status")).to_have_text("Live: updates by itself")
    page.evaluate("window.notReloaded = true")

    for count in (1, 2):
        live_station.write("press big-red\n")
        expect(card.locator('[data-input="big-red"]')).to_have_text(str(count))
        live_station.write("release big-red\n")
    expect(card.locator("[data-rate]")).not_to_have_text("not counted yet")
    assert page.evaluate("window.notReloaded") is True
    weight = page.evaluate("""() => performance.getEntries()
        .filter(entry => entry.entryType === 'navigation' || entry.entryType === 'resource')
        .filter(entry => !entry.name.endsWith('/rooms/events'))
        .reduce((sum, entry) => sum + entry.decodedBodySize, 0)""")
    assert 0 < weight < PAGE_LIMIT_BYTES, f"the rooms page weighs {weight} bytes"
    assert serious_violations(page, axe_source) == []
    folder = screenshot_folder(tmp_path)
    for name, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(folder / f"rooms-{name}.png"), full_page=True)

    assert live_station.stop() == 0, live_station.log
    expect(card.locator("[data-status]")).to_have_text(re.compile(r"^offline since \d\d:\d\d$"))
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(folder / "rooms-offline-tablet.png"), full_page=True)


def test_sign_ins_are_limited_and_say_so(dashboard_server: DashboardServer,
                                         browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    for _ in range(5):
        sign_in(page, dashboard_server.url, "bob", "not the password")
        expect(page.get_by_role("alert")).to_have_text(
            "That user name and password do not match. Check both and try again.")
    sign_in(page, dashboard_server.url, "bob", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many failed sign-ins for this account. Wait 15 minutes")
    sign_in(page, dashboard_server.url, "anna", PASSWORD)
    expect(page).to_have_url(f"{dashboard_server.url}/rooms")


def test_a_change_without_the_csrf_token_is_refused(dashboard_server: DashboardServer,
                                                   browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    sign_in(page, dashboard_server.url, "root", PASSWORD)
    page.goto(f"{dashboard_server.url}/admin/users")
    status = page.evaluate("""async () => (await fetch('/admin/assignments', {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'user=anna&client=C-2M9Q'})).status""")
    assert status == 403
    page.locator("#assign-client").fill("C-2M9Q")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]')"
                  ".forEach(input => input.value = 'forged')")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator("main")).to_contain_text(
        "This form has expired or came from another page. Reload the page and try again.")
    page.goto(f"{dashboard_server.url}/admin/users")
    page.locator("#assign-client").fill("C-2M9Q")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status").last).to_have_text("Done: assigned C-2M9Q.")


def test_a_therapist_gets_403_or_404_on_every_route_of_a_client_not_theirs(
    dashboard_server: DashboardServer, browser_page: Any,
) -> None:
    page = browser_page
    sign_in(page, dashboard_server.url, "anna", PASSWORD)
    page.wait_for_url(f"{dashboard_server.url}/rooms")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    checked = 0
    for method, path in dashboard_routes():
        if "{client}" not in path and "{session_id}" not in path:
            continue
        url = dashboard_server.url + path.replace("{client}", "C-2M9Q").replace(
            "{session_id}", "s-of-c-2m9q")
        response = page.request.fetch(url, method=method, form={"csrf_token": token or ""}
                                      if method != "GET" else None)
        assert response.status in (403, 404), (method, path, response.status)
        checked += 1
    assert checked, "the app has no client routes"
    assert page.request.get(f"{dashboard_server.url}/clients/C-7F3K").status == 200


def test_staff_see_the_rooms_but_never_client_pages_or_notes(
    dashboard_server: DashboardServer, browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    sign_in(page, dashboard_server.url, "sam", PASSWORD)
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Clients")
    response = page.goto(f"{dashboard_server.url}/clients/C-7F3K")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("Client pages, notes and reports are for the "
                                                 "client's therapist.")


def test_every_page_has_no_serious_accessibility_problem_and_is_photographed(
    dashboard_server: DashboardServer, chromium: Any, axe_source: str, tmp_path: Path,
) -> None:
    folder = screenshot_folder(tmp_path)
    pages = {"login": (None, "/login"), "rooms-empty": ("sam", "/rooms"),
             "clients": ("anna", "/clients"), "client": ("anna", "/clients/C-7F3K"),
             "not-yours": ("anna", "/clients/C-2M9Q"), "users": ("root", "/admin/users"),
             "audit": ("root", "/admin/audit")}
    found = {}
    for name, (user, path) in pages.items():
        for size, (width, height) in SIZES.items():
            context = chromium.new_context(viewport={"width": width, "height": height},
                                           bypass_csp=True)
            page = context.new_page()
            if user is not None:
                sign_in(page, dashboard_server.url, user, PASSWORD)
                page.wait_for_url(re.compile(r".*/rooms$"))
            page.goto(dashboard_server.url + path)
            page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
            found[f"{name}-{size}"] = serious_violations(page, axe_source)
            context.close()
    bad = {name: problems for name, problems in found.items() if problems}
    assert not bad, "\n".join(f"{name}: {problems}" for name, problems in bad.items())

