"""`station run`: the engine, the telemetry agent (the embedded broker, the dashboard) as
supervised child processes. A child that dies is logged and restarted with back-off; SIGINT
or SIGTERM stops them all cleanly.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from station.config import LoadedStation
from station.signals import on_signals

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5.0
FIRST_RESTART_DELAY = 1.0
LONGEST_RESTART_DELAY = 30.0
# A child that ran this long before dying is restarted at once, not after a longer delay.
STABLE_AFTER_SECONDS = 30.0


@dataclass
class Child:
    """One supervised process: `station <command> …` under this Python."""

    name: str
    arguments: list[str]
    stdin: Any = None  # None inherits ours; subprocess.PIPE lets the caller write to it
    process: subprocess.Popen[str] | None = None
    started_at: float = 0.0
    restart_delay: float = FIRST_RESTART_DELAY
    restart_at: float | None = None
    restarts: int = field(default=0)
    # Stopped before the others: the engine, whose last events (the session's end, its clean
    # stop) must be in the log before the agent delivers what is left and goes offline.
    stop_first: bool = False

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", "station", *self.arguments]

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, stdin=self.stdin, text=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %d)", self.name, self.process.pid)

    @property
    def stdin_pipe(self) -> IO[str] | None:
        return None if self.process is None else self.process.stdin


class Supervisor:
    """Starts children in order, restarts the ones that die, stops them in reverse order."""

    def __init__(self, children: Sequence[Child]) -> None:
        self.children = list(children)
        self.stopping = threading.Event()

    def start(self) -> None:
        for child in self.children:
            child.start()

    def check(self) -> None:
        """Restart children that have died (call this regularly)."""
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    child.start()
                continue
            code = child.process.poll()
            if code is None:
                continue
            if code == 0:
                log.info("%s finished", child.name)
                child.process = None
                continue
            if now - child.started_at >= STABLE_AFTER_SECONDS:
                child.restart_delay = FIRST_RESTART_DELAY
            log.error(
                "%s exited with status %d; restarting in %.0f s", child.name, code,
                child.restart_delay,
            )
            child.restart_at = now + child.restart_delay
            child.restart_delay = min(child.restart_delay * 2, LONGEST_RESTART_DELAY)

    def stop(self) -> None:
        """SIGTERM each child, those marked `stop_first` first, then the others last started
        first; SIGKILL any still running after 5 s."""
        self.stopping.set()
        last_first = list(reversed(self.children))
        for child in sorted(last_first, key=lambda child: not child.stop_first):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            if process.stdin is not None:
                process.stdin.close()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %.0f s; killing it", child.name,
                          STOP_TIMEOUT_SECONDS)
                process.kill()
                process.wait()

    def run_until_stopped(self, poll_seconds: float = 0.2) -> None:
        """Supervise until SIGINT/SIGTERM (or `stopping` is set), then stop everything."""
        previous = on_signals((signal.SIGINT, signal.SIGTERM), self.stopping.set)
        try:
            while not self.stopping.wait(poll_seconds):
                self.check()
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def station_children(
    station: LoadedStation,
    config_path: Path,
    overrides: Sequence[str],
    *,
    simulate: bool = False,
    record: Path | None = None,
    engine_stdin: Any = None,
) -> list[Child]:
    """The processes of one station: [embedded broker,] engine, telemetry agent[, dashboard
    (when the station file's ``[dashboard]`` says ``enabled = true``)]."""
    common = ["--config", str(config_path.resolve())]
    for override in overrides:
        common += ["--set", override]
    engine = ["engine", *common]
    if simulate:
        engine.append("--simulate")
    if record is not None:
        engine += ["--record", str(record.resolve())]
    children = []
    if not station.config.mqtt.host:
        children.append(Child("embedded broker", ["broker", *common]))
    children.append(Child("engine", engine, stdin=engine_stdin, stop_first=True))
    children.append(Child("telemetry agent", ["agent", *common]))
    if station.config.dashboard.enabled:
        children.append(Child("dashboard", ["dashboard", "serve", *common]))
    return children
