"""The demo's way into its dashboard: a login made for this run, and pages fetched over HTTP
the way a browser gets them (the sign-in form with its CSRF token and cookie, then the
sign-in's cookie).

`station demo` makes the login before it starts the dashboard (the database takes both), and
the headless demo signs in with it to save the session's report.
"""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from station.config import DashboardConfig
from station.dashboard.accounts import Accounts
from station.dashboard.process import secret_key
from station.dashboard.store import Store
from station.errors import StationError

DEMO_USER = "demo"
POLL_SECONDS = 0.25
_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class DashboardRequestError(StationError, ConnectionError):
    """The dashboard did not answer a page as expected; the message says what it answered."""


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
    """Signs in at `url` like a browser and fetches pages with the sign-in's cookie."""

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

    def sign_in(self, login: DemoLogin) -> None:
        """GET /login (its CSRF cookie and form token), then POST the form; the redirect to
        the rooms page carries the sign-in's cookie."""
        status, page, _ = self._open("/login")
        token = _FORM_TOKEN.search(page.decode("utf-8", "replace"))
        if status != 200 or token is None:
            raise DashboardRequestError(f"{self.url}/login answered {status} without a "
                                        "sign-in form")
        form = urllib.parse.urlencode({"name": login.name, "password": login.password,
                                       "csrf_token": token[1], "next": "/rooms"}).encode()
        status, _, landed = self._open("/login", form)
        if status != 200 or not landed.endswith("/rooms"):
            raise DashboardRequestError(f"signing in as {login.name} at {self.url}/login "
                                        f"answered {status}")

    def get(self, path: str) -> tuple[int, bytes]:
        """The status and body of `path` (signed in, once `sign_in` has been called)."""
        status, body, _ = self._open(path)
        return status, body

    def get_when(self, path: str, ready: Callable[[int, bytes], bool],
                 timeout: float) -> tuple[int, bytes]:
        """`get(path)` again until `ready(status, body)` (ingest may not have stored what the
        page shows yet), for at most `timeout` seconds; the last answer."""
        pause = threading.Event()
        status, body = self.get(path)
        for _ in range(int(timeout / POLL_SECONDS)):
            if ready(status, body):
                break
            pause.wait(POLL_SECONDS)
            status, body = self.get(path)
        return status, body
