"""The dashboard's web app in-process, on a real store: users, sign-in, route filling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient

from station.dashboard.accounts import Accounts
from station.dashboard.limits import LoginLimiter
from station.dashboard.live import LiveHub
from station.dashboard.store import Store
from station.dashboard.web.app import create_app
from station.dashboard.web.context import DashboardContext

PASSWORD = "a long enough password"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# What each path parameter of the app is filled with when a test walks every route.
PARAMETERS = {"client": "C-2M9Q", "session_id": "s-of-c-2m9q", "site": "demo-site",
              "station": "room-1", "command": "start_session"}


@dataclass
class Web:
    app: FastAPI
    context: DashboardContext
    accounts: Accounts

    def client(self, https: bool = False) -> TestClient:
        return TestClient(self.app, base_url="https://testserver" if https else
                          "http://testserver", follow_redirects=False)


def make_web(store: Store, problem: str = "") -> Web:
    accounts = Accounts(store, b"k" * 32)
    context = DashboardContext(
        store=store, accounts=accounts, limiter=LoginLimiter(5, 20, 900), hub=LiveHub(),
        session_idle_s=3600, broker="127.0.0.1:1883", database_problem=lambda: problem)
    return Web(create_app(context), context, accounts)


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found[1]


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in; the sign-in's CSRF token (from the rooms page)."""
    response = client.post("/login", data={"name": name, "password": password,
                                           "csrf_token": login_token(client)})
    assert response.status_code == 303, response.text
    rooms = client.get("/rooms")
    found = re.search(r'name="csrf_token" value="([^"]+)"', rooms.text)
    assert found, rooms.text
    return found[1]


def routes(app: FastAPI) -> Iterator[tuple[str, str, str]]:
    """(method, path as declared, path with its parameters filled) for every route of the app,
    from its own OpenAPI description (every route is in it; the static files are not)."""
    for path, operations in app.openapi()["paths"].items():
        filled = path
        for name, value in PARAMETERS.items():
            filled = filled.replace("{" + name + "}", value)
        assert "{" not in filled, f"{path}: add its parameter to PARAMETERS"
        for method in sorted(operations):
            yield method.upper(), path, filled
