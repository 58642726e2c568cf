"""USB switch interfaces: recorded `evtest` streams replayed as raw input events through a
pipe, read by the same code that reads /dev/input (this machine has no /dev/uinput for a
virtual device). Device discovery is the station's own `DeviceFinder` protocol."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import AccessSection, InputConfig
from station.inputs.switches import SwitchBoard
from station.inputs.usb import INPUT_EVENT, EvdevFinder, OpenDevice, UsbSwitches, key_code

from .test_switches import Heard

RECORDED = Path(__file__).parent / "data" / "switch-box-space.evtest"
BOX = "Acme Switch Interface"
SYN = (0, 0, 0)


def recorded_events(path: Path) -> list[tuple[float, int, int, int]]:
    """(seconds after the first event, type, code, value) of each event of an `evtest`
    recording."""
    events = []
    start = None
    for line in path.read_text().splitlines():
        match = re.search(r"time (\d+\.\d+), (?:type (\d+) .*code (\d+) .*value (\w+)$)?",
                          line)
        if not match:
            continue
        at = float(match[1])
        start = at if start is None else start
        if "SYN_REPORT" in line:
            events.append((at - start, *SYN))
        elif match[2]:
            kind = int(match[2])
            events.append((at - start, kind, int(match[3]), int(match[4], 16 if kind == 4 else 10)))
    return events


def raw(events: list[tuple[float, int, int, int]], start: float = 0.0) -> bytes:
    """Input events as the kernel writes them, timestamped `start` + their offset (monotonic
    seconds, as the station asks devices for)."""
    records = []
    for offset, kind, code, value in events:
        at = start + offset
        records.append(INPUT_EVENT.pack(int(at), round((at % 1) * 1e6), kind, code, value))
    return b"".join(records)


class PluggableDevices:
    """Devices by name, each a pipe that the test writes events into; unplugging closes the
    pipe's write end, which the reader sees as the device going away."""

    def __init__(self) -> None:
        self.plugged: dict[str, tuple[int, int]] = {}
        self.opened = threading.Condition()
        self.open_count = 0
        self.attempts = 0  # every look for a device, found or not

    def plug(self, name: str) -> int:
        read_end, write_end = os.pipe()
        self.plugged[name] = (read_end, write_end)
        return write_end

    def unplug(self, name: str) -> None:
        _, write_end = self.plugged.pop(name)
        os.close(write_end)

    def names(self) -> list[str]:
        return sorted(self.plugged)

    def open(self, name: str) -> OpenDevice | None:
        with self.opened:
            self.attempts += 1
            self.opened.notify_all()
        if name not in self.plugged:
            return None
        read_end, _ = self.plugged[name]
        with self.opened:
            self.open_count += 1
            self.opened.notify_all()
        return OpenDevice(read_end, name, lambda: os.close(read_end), monotonic=True)

    def wait_opened(self, count: int) -> None:
        with self.opened:
            assert self.opened.wait_for(lambda: self.open_count >= count, 5)

    def wait_attempts(self, count: int) -> None:
        with self.opened:
            assert self.opened.wait_for(lambda: self.attempts >= count, 5)


INPUTS = [
    InputConfig(name="space-switch", kind="usb-switch", device=BOX, code="KEY_SPACE", slot=1),
    InputConfig(name="enter-switch", kind="usb-switch", device=BOX, code="KEY_ENTER", slot=2),
    InputConfig(name="other-box", kind="usb-switch", device="Not Here", code="BTN_0", slot=3),
]


@pytest.fixture
def usb(mock_factory: Any) -> Iterator[tuple[PluggableDevices, Heard, UsbSwitches]]:
    heard = Heard()
    board = SwitchBoard(INPUTS, AccessSection(debounce_ms=0), heard, mock_factory,
                        simulate=False)
    devices = PluggableDevices()
    reader = UsbSwitches(board.switches.values(), devices, rescan_seconds=0.05)
    yield devices, heard, reader
    reader.close()
    board.close()


def test_a_recorded_switch_box_session_plays_its_presses_at_their_own_times(usb: Any) -> None:
    devices, heard, _ = usb
    device = devices.plug(BOX)
    devices.wait_opened(1)
    start = time.monotonic()
    os.write(device, raw(recorded_events(RECORDED), start))
    assert heard.wait_for(lambda e: len(e) == 6) == [
        ("press", "space-switch"), ("release", "space-switch"),
        ("press", "space-switch"), ("release", "space-switch"),  # repeats change nothing
        ("press", "enter-switch"), ("release", "enter-switch"),
    ]
    # Decisions use the device's timestamps, not when the events were read.
    assert [round(entry[3] - start, 3) for entry in heard.log] == [
        0.0, 0.16, 0.9, 1.5, 1.9, 2.0
    ]


def test_a_missing_device_is_reported_once_and_not_fatal(
    usb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    devices, _, reader = usb
    devices.plug(BOX)
    devices.wait_opened(1)
    devices.wait_attempts(10)  # several rescans later
    assert reader.missing == ["Not Here"]
    messages = [r.getMessage() for r in caplog.get_records("setup") + caplog.get_records("call")]
    missing = [m for m in messages if m.startswith("USB switch device 'Not Here' is not plugged")]
    assert len(missing) == 1, "reported once, not at every rescan"
    assert "inputs other-box wait for it" in missing[0]


def test_unplugging_releases_a_held_switch_and_replugging_works(
    usb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    devices, heard, reader = usb
    caplog.set_level(logging.INFO, logger="station.inputs.usb")
    device = devices.plug(BOX)
    devices.wait_opened(1)
    os.write(device, raw([(0, 1, key_code("KEY_SPACE"), 1), (0, *SYN)], time.monotonic()))
    heard.wait_for(lambda e: e == [("press", "space-switch")])
    devices.unplug(BOX)
    assert heard.wait_for(lambda e: len(e) == 2)[-1] == ("release", "space-switch"), (
        "no note hangs when the box is pulled out mid-press"
    )
    assert "USB switch device 'Acme Switch Interface' was unplugged" in caplog.text
    device = devices.plug(BOX)
    devices.wait_opened(2)
    os.write(device, raw([(0, 1, key_code("KEY_ENTER"), 1), (0, *SYN),
                          (0.05, 1, key_code("KEY_ENTER"), 0)], time.monotonic()))
    assert heard.wait_for(lambda e: len(e) == 4)[2:] == [
        ("press", "enter-switch"), ("release", "enter-switch")
    ]
    assert "plugged in again" in caplog.text
    assert BOX not in reader.missing


def test_with_the_real_device_finder_a_missing_device_is_reported_not_fatal(
    mock_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """python-evdev looks in /dev/input for real (this machine has no such device)."""
    board = SwitchBoard(INPUTS[:1], None, Heard(), mock_factory, simulate=False)
    reader = UsbSwitches(board.switches.values(), EvdevFinder(), rescan_seconds=0.05)
    try:
        pause = threading.Event()
        for _ in range(100):
            if "is not plugged in" in caplog.text:
                break
            pause.wait(0.02)
        assert f"USB switch device '{BOX}' is not plugged in (inputs space-switch" in caplog.text
        assert reader.missing == [BOX]
    finally:
        reader.close()
        board.close()
