"""`station demo` brings its dashboard: the printed address and login work in a real browser,
and the headless demo saves the session's report from it."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHIPPED_CONFIG
from tests.dashboard.browser import sign_in
from tests.test_demo import _read_until

pytestmark = pytest.mark.browser
LOGIN_LINE = (r"demo: dashboard at (http://127\.0\.0\.1:\d+)/ : sign in as (\S+), password "
              r"(\S+) \(made for this run\)")


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 800, "height": 1280})
    context.set_default_timeout(20000)
    page = context.new_page()
    yield page
    context.close()


def test_the_keyboard_demo_prints_a_login_that_shows_its_room_live(
    tmp_path: Path, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "station", "demo", "--config", str(SHIPPED_CONFIG / "station.toml")],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, start_new_session=True,
    )
    try:
        screen = _read_until(controller, r"play with the keys", 60)
        found = re.search(LOGIN_LINE, screen)
        assert found, screen
        url, name, password = found.groups()
        page = browser_page
        sign_in(page, url, name, password)
        expect(page).to_have_url(f"{url}/rooms")
        card = page.locator("#room-demo-site--room-1")
        expect(card.locator("[data-client]")).to_have_text("C-7F3K", timeout=30000)
        expect(card.locator("[data-session]")).to_contain_text("running")
        os.write(controller, b"a")
        expect(card.locator('[data-input="big-red"]')).to_have_text("1")
        # The login is a therapist of the demo's client: its client page opens.
        page.get_by_role("link", name="C-7F3K's page").click()
        expect(page).to_have_url(f"{url}/clients/C-7F3K")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0
