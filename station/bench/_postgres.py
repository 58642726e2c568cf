"""A throw-away PostgreSQL server from Debian's package, for the dashboard's tests and its
benchmark: its own folder, a free localhost port, its socket in that folder, no fsync.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user that
Debian's package creates (`runuser`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or its server would not start (the message says why)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parts[4]))
    if not found:
        raise PostgresUnavailable("PostgreSQL is not installed: run 'make test' (it installs "
                                  "it as root) or 'apt-get install postgresql'")
    return Path(found[-1]).parent


class PostgresServer:
    """One cluster in a temporary folder; `start`, `create_database`, `remove`."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="dashboard-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = "dashboard"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as, *command], capture_output=True, text=True,
                                timeout=120, cwd=self.folder)
        if result.returncode != 0:
            log = self.folder / "server.log"
            raise PostgresUnavailable(f"{' '.join(command)} failed:\n{result.stdout}"
                                      f"{result.stderr}" + (log.read_text() if log.exists()
                                                            else ""))

    def start(self) -> None:
        """Start the server (making its cluster the first time)."""
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "--pgdata", str(self.data), "--username",
                      self.user, "--auth", "trust", "--encoding", "UTF8", "--no-sync",
                      "--no-instructions")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "--wait",
                  "--timeout", "60", "--log", str(self.folder / "server.log"),
                  "--options", options, "start")

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut, as in an outage)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "--wait",
                      "--mode", "fast", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} "
                             "dbname=postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
