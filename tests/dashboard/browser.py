"""A real browser for the dashboard's tests: Debian's chromium driven by Playwright, and
axe-core (fetched by scripts/fetch-npm-assets.sh, pinned) run inside each page."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
# Headless and quiet: no sandbox (the tests run as root), nothing that reaches the internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
AXE = REPO / "build" / "npm" / "axe-core-4.14.1" / "axe.min.js"
SIZES = {"desktop": (1280, 800), "tablet": (800, 1280)}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless chromium for the run (each test takes a context of its own)."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run 'make test' (it installs it as root) or "
                    "'apt-get install chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, fetched (pinned, integrity-checked) when it is not there yet."""
    if not AXE.exists():
        fetched = subprocess.run([str(REPO / "scripts" / "fetch-npm-assets.sh")],
                                 capture_output=True, text=True, timeout=300)
        assert fetched.returncode == 0, fetched.stderr
    return AXE.read_text(encoding="utf-8")


def serious_violations(page: Any, axe_source: str) -> list[str]:
    """axe-core's serious and critical findings on `page`, one line each."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in result["violations"] if violation["impact"] in ("serious", "critical")
    ]


def screenshot_folder(tmp_path: Path) -> Path:
    """$DASHBOARD_SCREENSHOTS (to keep and look at them), else the test's own folder."""
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
