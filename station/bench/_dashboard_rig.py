"""What `station bench dashboard` stands on: a real `station dashboard` process, a real
`station run --simulate` station on the same broker, and Debian's chromium showing the rooms
page, with the time of each press and of each change of the count in the page."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from station.bench._station import free_port, rss_megabytes, stop

CHROMIUM = Path("/usr/bin/chromium")
# Headless and quiet: nothing that reaches the internet; no sandbox when run as root.
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
USER, PASSWORD, CLIENT = "bench", "a long enough bench password", "C-7F3K"
ROOM = "#room-demo-site--room-1"
INPUT = "big-red"

# Runs in the page: each change of the room's count, with the page's wall clock at the
# mutation (performance.timeOrigin + performance.now(): milliseconds since 1970).
WATCH_COUNT = """([room, input]) => {
  window.benchCounts = [];
  const read = () => {
    const cell = document.querySelector(`${room} [data-input="${input}"]`);
    return cell ? parseInt(cell.textContent, 10) : 0;
  };
  const note = () => {
    const at = performance.timeOrigin + performance.now();
    const value = read();
    const seen = window.benchCounts;
    if (!seen.length || seen[seen.length - 1][0] !== value) { seen.push([value, at]); }
  };
  note();
  new MutationObserver(note).observe(document.getElementById("rooms"),
    {childList: true, subtree: true, characterData: true});
}"""


class BenchDashboard:
    """`station dashboard` on a free port with the database at `database_url` and one
    therapist who has the station's client. `start()` times it to systemd's READY=1."""

    def __init__(self, folder: Path, broker_port: int, database_url: str,
                 ingest_protocol: str = "3.1.1", protocol: str = "5",
                 nice: int = 0) -> None:
        """`protocol`: the broker's (the embedded development broker speaks only 3.1.1)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.nice = nice  # beside a station it runs as its unit does (Nice=10)
        self.folder = folder
        self.port = free_port()
        self.config = folder / "dashboard.toml"
        self.config.write_text(
            f'[dashboard]\nport = {self.port}\ndata_dir = "data"\n'
            f"database_url = {json.dumps(database_url)}\n\n[mqtt]\nport = {broker_port}\n"
            f"protocol = {json.dumps(protocol)}\n"
            f"ingest_protocol = {json.dumps(ingest_protocol)}\n",
            encoding="utf-8")
        self.process: subprocess.Popen[Any] | None = None
        self.start_to_ready_s = 0.0
        self.start_to_healthy_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self, *arguments: str, stdin: str = "") -> None:
        done = subprocess.run([sys.executable, "-m", "station", "dashboard", "--config",
                               str(self.config), *arguments], input=stdin, text=True,
                              capture_output=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"station dashboard {arguments[0]} failed: {done.stderr}")

    def add_therapist(self, client: str = CLIENT) -> None:
        self._command("add-user", USER, "--role", "therapist", stdin=PASSWORD + "\n")
        self._command("assign", USER, client)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    def start(self, timeout: float = 60.0) -> None:
        """Start it; `start_to_ready_s` is the time to its READY=1 (serving), as systemd
        sees it, `start_to_healthy_s` to a healthy /health (database and broker ready)."""
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        address = self.folder / "notify.socket"
        address.unlink(missing_ok=True)
        notify.bind(str(address))
        notify.settimeout(timeout)
        began = time.monotonic()
        self.process = subprocess.Popen(
            ["nice", "-n", str(self.nice), sys.executable, "-m", "station", "dashboard",
             "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "dashboard.log").open("wb"),
            env={**os.environ, "NOTIFY_SOCKET": str(address), "PYTHONUNBUFFERED": "1"})
        try:
            while b"READY=1" not in notify.recv(4096):
                pass
        except TimeoutError:
            raise SystemExit(f"the dashboard was not ready within {timeout:.0f} s; see "
                             f"{self.folder / 'dashboard.log'}") from None
        finally:
            notify.close()
        self.start_to_ready_s = time.monotonic() - began
        pause = threading.Event()
        while not self.healthy():
            if time.monotonic() - began > timeout or pause.wait(0.05):
                raise SystemExit("the dashboard did not become healthy")
        self.start_to_healthy_s = time.monotonic() - began

    def processes(self) -> list[int]:
        """The dashboard's process and its children (ingest's, and multiprocessing's
        resource tracker)."""
        assert self.process is not None
        found = [self.process.pid]
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(pid) for pid in (task / "children").read_text().split()]
        return found

    def rss_mb(self) -> float:
        """Its processes' resident memory in all."""
        total = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError, RuntimeError):
                total += rss_megabytes(pid)
        return total

    def cpu_seconds(self) -> float:
        """The processor time its processes have used, all their threads (user and system)."""
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


class PressingStation:
    """`station run --simulate` on the bench's broker: presses are lines on its stdin, and
    the wall clock is read right as each is written."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "station", "run", "--simulate", "--config", str(config)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def press(self) -> float:
        """Press and release the input; the wall time of the press (ms since 1970)."""
        assert self.process.stdin is not None
        pressed = time.time() * 1000.0
        self.process.stdin.write(f"press {INPUT}\n")
        self.process.stdin.flush()
        return pressed

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"release {INPUT}\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        stop(self.process)


class RoomsPage:
    """Chromium (headless) signed in to the dashboard's rooms page, watching the count."""

    def __init__(self, nice: int = 0) -> None:
        """`nice`: the browser's processes' niceness (`DashboardBeside`: the tablet's
        stand-in, which on a Pi would not run there at all)."""
        if not CHROMIUM.exists():
            raise SystemExit("the benchmark needs Debian's chromium (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        arguments = CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
        self.browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                        args=arguments)
        if nice:
            # The processes it starts later (a page's renderer) inherit it.
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(OSError):
                    if "chromium" in os.readlink(f"/proc/{pid}/exe"):
                        os.setpriority(os.PRIO_PROCESS, pid, nice)
        self.page: Any = None

    def open(self, dashboard: BenchDashboard, timeout_s: float = 60.0,
             watch: bool = True) -> None:
        """Sign in and wait for the live stream; to `watch`, wait until the station's session
        shows and start watching the count."""
        if self.page is not None:
            self.page.context.close()
        context = self.browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(timeout_s * 1000)
        page = context.new_page()
        page.goto(f"{dashboard.url}/login")
        page.get_by_label("User name").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{dashboard.url}/rooms")
        page.locator("#live-status").filter(has_text="Live: updates by itself").wait_for()
        self.page = page
        if watch:
            page.locator(f"{ROOM} [data-session]").filter(has_text="running").wait_for()
            page.evaluate(WATCH_COUNT, [ROOM, INPUT])

    def counts(self) -> list[tuple[int, float]]:
        """Each count the page showed, with the page's wall time of the change (ms)."""
        return [(int(value), float(at)) for value, at in
                self.page.evaluate("window.benchCounts")]

    def wait_for_count(self, count: int, timeout_s: float) -> bool:
        try:
            self.page.wait_for_function(
                "n => window.benchCounts.some(([value]) => value >= n)", arg=count,
                timeout=timeout_s * 1000)
        except Exception:  # Playwright's TimeoutError
            return False
        return True

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


def press_latencies(station: PressingStation, page: RoomsPage, presses: int,
                    rate: float, during: Any = None) -> list[float]:
    """Press `presses` times at `rate` a second; each press's time to its count in the page
    (ms). `during()`, if given, is called between presses (it must return at once)."""
    start_count = page.counts()[-1][0]
    interval = 1.0 / rate
    pause = threading.Event()
    pressed = []
    began = time.monotonic()
    for index in range(presses):
        delay = began + index * interval - time.monotonic()
        if delay > 0:
            pause.wait(delay)
        pressed.append(station.press())
        pause.wait(min(0.05, interval / 2))
        station.release()
        if during is not None:
            during()
    page.wait_for_count(start_count + presses, 30.0)
    seen = page.counts()
    latencies = []
    for number, at in enumerate(pressed, start=start_count + 1):
        shown = next((when for value, when in seen if value >= number), None)
        if shown is not None:
            latencies.append(shown - at)
    return latencies


# The dashboard unit's Nice=: on a single-room Pi it gives way to the engine.
DASHBOARD_NICE = 10


def _descendants(root: int) -> list[int]:
    """Every process below `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, waiting = [], [root]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.append(child)
            waiting.append(child)
    return found


class DashboardBeside:
    """`station dashboard` on a station's broker and chromium on its rooms page, live, for
    `station bench latency --with-dashboard`. The embedded broker speaks MQTT 3.1.1."""

    def __init__(self, folder: Path, broker_port: int, client: str) -> None:
        self.dashboard = BenchDashboard(
            folder, broker_port, f"sqlite:///{folder / 'data' / 'dashboard.sqlite3'}", "3.1.1",
            "3.1.1", nice=DASHBOARD_NICE)
        self.page: RoomsPage | None = None
        try:
            self.dashboard.add_therapist(client)
            self.dashboard.start()
            self.page = RoomsPage(nice=DASHBOARD_NICE)
            self.page.open(self.dashboard, watch=False)
        except BaseException:
            self.close()
            raise

    def report(self) -> dict[str, Any]:
        assert self.page is not None and self.page.page is not None
        return {"rooms_shown": self.page.page.locator("#rooms > li").count(),
                "rss_mb": round(self.dashboard.rss_mb(), 1),
                "cpu_s": round(self.dashboard.cpu_seconds(), 2),
                "browser": "chromium on the rooms page, live over server-sent events"}

    def watched(self) -> dict[str, int]:
        """Its two processes by name, for the xruns' attribution (not chromium's many)."""
        found = {}
        for pid in self.dashboard.processes():
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"spawn_main" in command:
                    found["dashboard-ingest"] = pid
                elif b"resource_tracker" not in command:
                    found["dashboard"] = pid
        return found

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
        self.dashboard.stop()
