"""A real `station dashboard` process on a free localhost port, with users made by
`station dashboard add-user` (passwords on stdin) and clients assigned by `assign`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.telemetry.conftest import StationProcess

PASSWORD = "a long enough password"
# name: (role, assigned clients)
USERS = {"anna": ("therapist", ["C-7F3K"]), "sam": ("staff", []), "root": ("admin", []),
         "bob": ("therapist", ["C-2M9Q"])}


class DashboardServer:
    """`station dashboard --config <folder>/dashboard.toml`, SQLite in the folder."""

    def __init__(self, folder: Path, broker_port: int, **settings: Any) -> None:
        environment = settings.pop("environment", {})
        self.folder = folder
        self.port = free_port()
        self.config = folder / "dashboard.toml"
        lines = ["[dashboard]", f"port = {self.port}", 'data_dir = "data"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        lines += ["", "[mqtt]", f"port = {broker_port}"]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.process = StationProcess(["dashboard", "--config", str(self.config)],
                                      environment=environment)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def station(self, *arguments: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "station", "dashboard", "--config", str(self.config),
             *arguments], input=stdin, capture_output=True, text=True, timeout=60)

    def add_users(self, users: dict[str, tuple[str, list[str]]] = USERS) -> None:
        for name, (role, clients) in users.items():
            made = self.station("add-user", name, "--role", role, stdin=PASSWORD + "\n")
            assert made.returncode == 0, made.stderr
            for client in clients:
                assigned = self.station("assign", name, client)
                assert assigned.returncode == 0, assigned.stderr

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def start(self, timeout: float = 30.0) -> None:
        self.process.start()
        pause = threading.Event()
        for _ in range(int(timeout / 0.1)):
            try:
                self.health()
                return
            except (urllib.error.URLError, ConnectionError):
                if not self.process.running or pause.wait(0.1):
                    break
        pytest.fail(f"the dashboard did not answer on {self.url}:\n{self.process.log}")

    def wait_healthy(self, timeout: float = 20.0) -> dict[str, Any]:
        pause = threading.Event()
        body: dict[str, Any] = {}
        for _ in range(int(timeout / 0.1)):
            status, body = self.health()
            if status == 200:
                return body
            pause.wait(0.1)
        pytest.fail(f"the dashboard did not become healthy: {body}\n{self.process.log}")

    def stop(self) -> int:
        return self.process.stop() if self.process.process is not None else 0
