"""`station dashboard`: the web server, and ingest in a child process.

Threads: the main thread runs the event loop of the web server (uvicorn, in-process) and the
loop's watchdog task, which pings systemd only while ingest lives, so a hung page server or
a dead ingest gets the dashboard restarted. Ingest's broker side (paho's network thread,
the contract checks) runs in a process of its own and hands each checked batch to a thread
here that writes it (`IngestProcess`: in one process, ingest fell behind at one core). A
database thread brings the schema up to date at start and keeps trying while the database
is down; pages answer meanwhile, saying what is wrong, and ingest starts once the database
is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import uvicorn

from station import sdnotify
from station.config import DashboardConfig
from station.dashboard.accounts import Accounts
from station.dashboard.commands import CommandDesk
from station.dashboard.ingest import IngestSettings, IngestStatus
from station.dashboard.ingest_process import IngestProcess
from station.dashboard.limits import LoginLimiter
from station.dashboard.live import LiveHub
from station.dashboard.replay import GapFiller
from station.dashboard.retention import Retention
from station.dashboard.store import Store
from station.dashboard.store.database import migrate, open_engine
from station.dashboard.web.app import create_app
from station.dashboard.web.context import DashboardContext
from station.errors import StationError
from station.signals import on_signals

log = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 5.0
WATCHDOG_CHECK_SECONDS = 1.0


class SecretKeyError(StationError, OSError):
    """The dashboard's secret key file cannot be read or made."""


def secret_key(path: Path) -> bytes:
    """The key in `path`, made (random, mode 0600) if the file does not exist yet."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if path.stat().st_mode & 0o077:
                log.warning("%s can be read by other users; chmod 600 it", path)
            key = path.read_text(encoding="ascii").strip()
            if len(key) < 32:
                raise SecretKeyError(f"{path} holds no key (fewer than 32 characters); remove "
                                     "it and a new one is made at the next start") from None
            return key.encode()
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            key = secrets.token_hex(32)
            file.write(key + "\n")
        log.info("made a new secret key in %s", path)
        return key.encode()
    except OSError as error:
        raise SecretKeyError(f"the secret key file {path} cannot be used: {error}") from None


def ingest_settings(config: DashboardConfig) -> IngestSettings:
    broker = config.broker
    return IngestSettings(
        host=broker.host, port=broker.port, topic_root=broker.topic_root,
        client_id=broker.client_id, username=broker.username, password=broker.password,
        protocol=broker.protocol, tls=broker.tls,
        ca_file=str(broker.ca_file) if broker.ca_file else None,
        cert_file=str(broker.cert_file) if broker.cert_file else None,
        key_file=str(broker.key_file) if broker.key_file else None)


class _Server(uvicorn.Server):
    """uvicorn's server, leaving SIGINT and SIGTERM to the dashboard (`on_signals`)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DashboardProcess:
    """The whole dashboard; `run` serves until SIGINT or SIGTERM."""

    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.stopping = threading.Event()
        self.hub = LiveHub()
        self.store = Store(open_engine(config.database_url))
        self.ingest: IngestProcess | None = None
        self.gap_filler: GapFiller | None = None
        self.command_desk: CommandDesk | None = None
        self.retention = Retention(self.store, config.retention_days)
        self._database_problem = "not checked yet"
        broker = config.broker
        self.context = DashboardContext(
            store=self.store,
            accounts=Accounts(self.store, secret_key(config.secret_key_file)),
            limiter=LoginLimiter(config.login_attempts_per_account,
                                 config.login_attempts_per_address,
                                 config.login_window_minutes * 60),
            hub=self.hub, session_idle_s=config.session_hours * 3600,
            broker=f"{broker.host}:{broker.port}", ingest_status=self._ingest_status,
            database_problem=lambda: self._database_problem, assets_dir=config.assets_dir)
        self.server = _Server(uvicorn.Config(
            create_app(self.context), host=config.listen, port=config.port, log_config=None,
            access_log=False, lifespan="off", proxy_headers=True,
            # Live streams never end by themselves: a stop must not wait for the browsers.
            timeout_graceful_shutdown=2,
            ssl_certfile=str(config.tls_cert_file) if config.tls_cert_file else None,
            ssl_keyfile=str(config.tls_key_file) if config.tls_key_file else None))

    def _ingest_status(self) -> IngestStatus | None:
        return self.ingest.status() if self.ingest is not None else None

    def _prepare_database(self) -> None:
        """Migrate (retrying while the database is down), then start ingest and retention."""
        while not self.stopping.is_set():
            try:
                migrate(self.store.engine)
                break
            except Exception as error:  # any driver's "cannot connect", or a broken schema
                reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
                if self._database_problem != reason:
                    log.error("the dashboard's database cannot be used (%s); trying again "
                              "every %.0f s", reason, DATABASE_RETRY_SECONDS)
                self._database_problem = reason
                self.stopping.wait(DATABASE_RETRY_SECONDS)
        if self.stopping.is_set():
            return
        self._database_problem = ""
        self.ingest = IngestProcess(
            self.store, replace(ingest_settings(self.config),
                                protocol=self.config.broker.ingest_protocol),
            on_commit=self.hub.changed)
        self.ingest.start()
        # Whatever the store lacks of a station's seq, it asks the station to publish again.
        self.gap_filler = GapFiller(self.store, ingest_settings(self.config))
        self.gap_filler.start()
        # The session console's commands, on a connection of their own.
        self.command_desk = CommandDesk(self.store, ingest_settings(self.config),
                                        on_change=self.hub.changed)
        self.command_desk.start()
        self.context.commands = self.command_desk
        self.retention.start()
        log.info("database ready; ingest reads %s:%d", self.config.broker.host,
                 self.config.broker.port)

    async def _watchdog(self) -> None:
        period = sdnotify.watchdog_period()
        last = 0.0
        while not self.server.should_exit:
            if self.ingest is not None and not self.ingest.writing:
                log.error("ingest stopped; the dashboard stops so that it is restarted")
                self.server.should_exit = True
                self.failed = True
                return
            if period is not None and time.monotonic() - last >= period:
                sdnotify.watchdog_ping()
                last = time.monotonic()
            await asyncio.sleep(WATCHDOG_CHECK_SECONDS)

    async def _serve(self) -> None:
        self.hub.bind(asyncio.get_running_loop())
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if serving.done():
                await serving
                raise StationError(f"the dashboard could not listen on {self.config.listen}:"
                                   f"{self.config.port}; is another program using the port?")
            await asyncio.sleep(0.05)
        scheme = "https" if self.config.tls_cert_file else "http"
        url = f"{scheme}://{self.config.listen}:{self.config.port}/"
        log.info("dashboard serving %s", url)
        sdnotify.ready(f"serving {url}")
        watchdog = asyncio.create_task(self._watchdog())
        await serving
        watchdog.cancel()

    def stop(self) -> None:
        self.stopping.set()
        self.server.should_exit = True

    def run(self) -> int:
        self.failed = False
        on_signals((signal.SIGINT, signal.SIGTERM), self.stop)
        database = threading.Thread(target=self._prepare_database, name="dashboard-database",
                                    daemon=True)
        database.start()
        try:
            asyncio.run(self._serve())
        except SystemExit as exit_:  # uvicorn exits when it cannot bind
            raise StationError(f"the dashboard could not listen on {self.config.listen}:"
                               f"{self.config.port}; is another program using the port?"
                               ) from exit_
        finally:
            sdnotify.stopping()
            self.stopping.set()
            database.join(DATABASE_RETRY_SECONDS + 1)
            self.retention.stop()
            if self.gap_filler is not None:
                self.gap_filler.stop()
            if self.command_desk is not None:
                self.command_desk.stop()
            if self.ingest is not None:
                self.ingest.stop()
            self.store.close()
        return 1 if self.failed else 0
