"""A client's goal across sessions on the client page, in a real browser: the station's own
summaries (scored from cue events by the station's scoring) stored as ingest stores them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from station.config.client import GoalSection
from station.dashboard.store import Store
from station.telemetry.aggregate import session_summary
from tests.dashboard.browser import screenshot_folder, serious_violations, sign_in
from tests.dashboard.report_events import SessionScript, pages_text, write
from tests.dashboard.served import PASSWORD, DashboardServer
from tests.dashboard.test_browser_history import charts_fetched  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
GOAL = GoalSection(name="answers-the-call", behaviour="responds", inputs=["big-red"],
                   within_seconds=5.0, prompt_at_most="independent", criterion_percent=75.0,
                   criterion_sessions=2)
DAY = 86400.0


def cue_session(day: int, answered: list[bool]) -> SessionScript:
    """A session `day` days after the first, with one cue per entry of `answered`: a
    response on big-red after 2 s, or no response."""
    script = SessionScript(session=f"{day:012x}", first_seq=1 + day * 1000)
    script.at(day * DAY).start()
    for number, response in enumerate(answered):
        script.at(day * DAY + 10.0 + number * 20.0).cue(
            f"{day:04x}{number:04x}", "big-red", 2000.0 if response else None)
    return script.at(day * DAY + 200.0).end()


def test_a_goal_shows_each_sessions_share_against_its_criterion_and_when_it_was_met(
    charts_fetched: None, dashboard_server: DashboardServer, chromium: Any,  # noqa: F811
    axe_source: str, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    store = Store.open(f"sqlite:///{dashboard_server.folder / 'data' / 'dashboard.sqlite3'}")
    try:
        # 50 %, then 75 % and 100 %: the criterion (75 % in 2 sessions in a row) is met on
        # the third session's day.
        for day, answered in ((0, [True, False]), (7, [True, True, True, False]),
                              (14, [True, True])):
            script = cue_session(day, answered)
            summary = session_summary(script.events, 10.0, lambda client: [GOAL])
            write(store, script.events, summary=summary)
    finally:
        store.close()

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, dashboard_server.url, "anna", PASSWORD)
    page.wait_for_url(re.compile(r".*/rooms$"))
    page.goto(f"{dashboard_server.url}/clients/C-7F3K")
    chart = page.locator("#chart-goal-answers-the-call")
    expect(chart.locator("canvas")).to_have_count(1)
    criterion = page.locator('[data-goal="goal-answers-the-call"]')
    expect(criterion).to_contain_text("Criterion: at least 75 % in 2 sessions in a row.")
    third_day = page.locator("#sessions tbody tr").first.locator("th a").inner_text()
    expect(criterion.locator(".goal-met")).to_have_text(
        f"Criterion met on {third_day[:11]}.")
    rows = page.locator("#sessions tbody tr td.goals")
    expect(rows).to_have_text(["answers-the-call 100 % (2 of 2)",
                               "answers-the-call 75 % (3 of 4)",
                               "answers-the-call 50 % (1 of 2)"])
    # The criterion line is drawn: the canvas has its green across the chart.
    green = page.evaluate("""() => {
        const canvas = document.querySelector('#chart-goal-answers-the-call canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let found = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i] === 0x1e && data[i + 1] === 0x6b && data[i + 2] === 0x3a) found++;
        }
        return found;
    }""")
    assert green > 200, "the criterion line is missing"
    assert serious_violations(page, axe_source) == []
    folder = screenshot_folder(tmp_path)
    page.screenshot(path=str(folder / "client-goal-desktop.png"), full_page=True)

    # The second session's report: its cues and the goal in the objective data, the page
    # and the PDF alike.
    page.locator("#sessions tbody tr").nth(1).locator("th a").click()
    expected = "3 of 4 opportunities met, 75 % (criterion 75 % in 2 sessions in a row)"
    goals = page.locator("#goals")
    expect(goals).to_contain_text("3 of 4 cues were answered (median 2.0 s after the cue "
                                  "began)")
    expect(goals).to_contain_text(f"Goal answers-the-call{expected}")
    draft = page.get_by_label("Note, drafted from the numbers").input_value()
    assert f"Goal answers-the-call: {expected}." in draft
    assert serious_violations(page, axe_source) == []
    page.screenshot(path=str(folder / "report-goal-desktop.png"), full_page=True)
    pdf = page.request.get(page.url + "/report.pdf")
    assert pdf.status == 200
    (folder / "report-goal.pdf").write_bytes(pdf.body())
    text = " ".join(pages_text(pdf.body()))
    assert f"Goal answers-the-call {expected}" in text
    assert f"Goal answers-the-call: {expected}." in text  # in the objective data too
    context.close()
