"""The demo's way into its dashboard: a login made for this run, and the dashboard's
address, once it answers.

`station demo` makes the login before it starts the dashboard (the database takes both).
"""

from __future__ import annotations

import http.cookiejar
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from station.config import DashboardConfig
from station.dashboard.accounts import Accounts
from station.dashboard.process import secret_key
from station.dashboard.store import Store

DEMO_USER = "demo"
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class DemoLogin:
    """A therapist made for one demo run, assigned the demo's client."""

    name: str
    password: str
    client: str


def make_demo_login(config: DashboardConfig, client: str) -> DemoLogin:
    """A therapist `demo` with a password made for this run, assigned `client`, in the
    dashboard's database (a fresh one: the demo's data folder is new every run)."""
    password = secrets.token_urlsafe(12)
    store = Store.open(config.database_url)
    try:
        accounts = Accounts(store, secret_key(config.secret_key_file))
        accounts.add_user(DEMO_USER, "therapist", password)
        accounts.assign(DEMO_USER, client)
        accounts.audit("(demo)", "user_added", detail=f"{DEMO_USER} as therapist")
    finally:
        store.close()
    return DemoLogin(DEMO_USER, password, client)


class DashboardBrowser:
    """The dashboard at `url`, asked like a browser asks (cookies kept)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def _open(self, path: str, data: bytes | None = None) -> tuple[int, bytes, str]:
        request = urllib.request.Request(f"{self.url}{path}", data=data)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read(), response.geturl()
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.geturl()

    def wait_listening(self, timeout: float, stopping: threading.Event) -> bool:
        """True once `/health` answers (well or not), within `timeout` seconds."""
        for _ in range(int(timeout / POLL_SECONDS)):
            try:
                self._open("/health")
                return True
            except (urllib.error.URLError, ConnectionError):
                if stopping.wait(POLL_SECONDS):
                    return False
        return False
