"""What the web side is given to work with: one `DashboardContext`, built by the process (or
a test) from real parts and handed to `create_app`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from station.dashboard.accounts import Accounts
from station.dashboard.commands import CommandDesk
from station.dashboard.ingest import IngestStatus
from station.dashboard.limits import LoginLimiter
from station.dashboard.live import LiveHub
from station.dashboard.reports.changes import ChangeCache
from station.dashboard.store import Store
from station.errors import StationError


class DatabaseUnavailable(StationError, ConnectionError):
    """The dashboard's database cannot be used yet (not reachable, or not migrated)."""


@dataclass
class DashboardContext:
    """The parts every request may use."""

    store: Store
    accounts: Accounts
    limiter: LoginLimiter
    hub: LiveHub
    session_idle_s: float
    broker: str
    """``host:port`` of the broker ingest reads, for messages."""
    ingest_status: Callable[[], IngestStatus | None] = lambda: None
    """None while ingest has not started (the database was not ready)."""
    database_problem: Callable[[], str] = lambda: ""
    """Why the database cannot be used yet; "" once it is reachable and migrated."""
    clock: Callable[[], float] = field(default=time.time)
    assets_dir: Path | None = None
    """Where the npm packages were fetched (`web.assets`); None: no charts."""
    changes: ChangeCache = field(default_factory=ChangeCache)
    """The client pages' change markers of finished sessions, kept for the process."""
    commands: CommandDesk | None = None
    """The session console's commands; None until the database is ready."""

    def require_database(self) -> None:
        problem = self.database_problem()
        if problem:
            raise DatabaseUnavailable(problem)
