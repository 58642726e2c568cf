"""`station demo` as a newcomer runs it, with and without a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
import wave
from pathlib import Path

from pypdf import PdfReader

from tests.conftest import SHIPPED_CONFIG


def test_scripted_demo_records_and_prints_the_counts_from_the_broker(tmp_path: Path) -> None:
    recording = tmp_path / "demo.wav"
    report = tmp_path / "demo-report.pdf"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "station", "demo", "--config", str(SHIPPED_CONFIG / "station.toml"),
         "--seconds", "4", "--record", str(recording), "--report", str(report)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    counts = re.search(r"demo: counts received over MQTT: (.*)", result.stdout)
    assert counts, result.stdout
    received = {name: int(n) for name, n in re.findall(r"([a-z-]+) (\d+)", counts[1])}
    # 4 s at one press every 0.6 s: 7 presses walking over the four inputs.
    assert sum(received.values()) == 7
    assert set(received) == {"big-red", "big-blue", "big-yellow", "head-switch"}
    with wave.open(str(recording)) as wav:
        assert wav.getnframes() / wav.getframerate() > 4.0
    login = re.search(r"demo: dashboard at (http://127\.0\.0\.1:\d+)/ : sign in as demo, "
                      r"password (\S{16}) \(made for this run\)", result.stdout)
    assert login, result.stdout
    session = re.search(r"session (\w+) started", result.stderr)
    assert session, result.stderr
    # The report, fetched from the dashboard signed in as the demo's login, is the session's.
    assert (f"demo: session report saved to {report} (from {login[1]}/clients/C-7F3K/sessions/"
            f"{session[1]}/report.pdf)") in result.stdout
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert "C-7F3K" in text and session[1] in text
    assert re.search(r"^All inputs 7 0\b", text, flags=re.M), text  # the 7 presses sent


def _read_until(fd: int, pattern: str, timeout: float) -> str:
    """Terminal output until `pattern` appears (or fail after `timeout` seconds)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
            if re.search(pattern, seen):
                return seen
    raise AssertionError(f"{pattern!r} did not appear within {timeout} s; screen:\n{seen}")


def test_keyboard_demo_plays_a_key_and_shows_its_count(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "station", "demo", "--config", str(SHIPPED_CONFIG / "station.toml")],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, start_new_session=True,
    )
    echo_and_lines = termios.tcgetattr(terminal)[3] & (termios.ECHO | termios.ICANON)
    try:
        screen = _read_until(controller, r"keys: .*a = big-red", 30)
        screen += _read_until(controller, r"play with the keys", 30)
        os.write(controller, b"a")
        screen += _read_until(controller, r"big-red 1", 15)
        os.write(controller, b"s")
        _read_until(controller, r"big-blue 1, big-red 1", 15)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
        restored = termios.tcgetattr(terminal)[3] & (termios.ECHO | termios.ICANON)
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0
    assert restored == echo_and_lines, "the terminal gets its echo and line editing back"


def test_a_demo_ended_by_sigterm_while_starting_leaves_no_process_behind() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "station", "demo", "--config", str(SHIPPED_CONFIG / "station.toml"),
         "--seconds", "30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert demo.stderr is not None
    started: dict[str, int] = {}
    deadline = time.monotonic() + 30
    while "dashboard" not in started and time.monotonic() < deadline:
        line = demo.stderr.readline()
        if not line:
            break
        if found := re.search(r"demo: started (.+) \(pid (\d+)\)", line):
            started[found[1]] = int(found[2])
    assert set(started) == {"embedded broker", "engine", "telemetry agent", "dashboard"}, started
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(30) != 0
    demo.stderr.close()
    left = [name for name, pid in started.items() if Path(f"/proc/{pid}").exists()
            and b"station" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert left == [], f"still running after the demo ended: {left}"
