"""USB switch interfaces: HID keyboards and joysticks read through Linux's input devices.

Many commercial switch interfaces (and the Xbox Adaptive Controller) appear as a keyboard or a
joystick: a switch plugged into them sends a key or button code. A ``usb-switch`` input names
its device (by name, as ``evtest`` lists it) and its code; its edges go through the same access
filter as a GPIO switch.

One thread watches every device with ``select``. Events are read straight from the device
file as ``struct input_event`` records, so a recorded stream in a pipe runs through exactly
the same code as a device. python-evdev finds devices by name, grabs them (so a switch box does
not also type into the console) and knows the code names. Each device is switched to
monotonic timestamps (``EVIOCSCLOCKID``), so an edge's time is the kernel's, taken when the
device reported it, on the same clock as `time.monotonic`; a device that refuses gets the
time it was read.

A device that is missing at start is reported once and looked for every `RESCAN_SECONDS`;
an unplugged device is reported, its held switches are released (no note hangs), and it is
used again as soon as it is plugged back in.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from station.inputs.switches import Switch

log = logging.getLogger(__name__)

# struct input_event on 64-bit Linux: seconds, microseconds, type, code, value.
INPUT_EVENT = struct.Struct("llHHi")
EV_KEY = 1
KEY_RELEASED, KEY_PRESSED, KEY_REPEATED = 0, 1, 2
RESCAN_SECONDS = 2.0
# ioctl _IOW('E', 0xa0, int): the clock a device's event timestamps use.
EVIOCSCLOCKID = 0x400445A0


@dataclass
class OpenDevice:
    """An open input device: the file to read events from, and how to let go of it.

    `monotonic` tells that its event timestamps are on the monotonic clock."""

    fd: int
    name: str
    close: Callable[[], None]
    monotonic: bool = False


class DeviceFinder(Protocol):
    """Finds input devices by name (`EvdevFinder` on a station)."""

    def open(self, name: str) -> OpenDevice | None: ...

    def names(self) -> list[str]: ...


class EvdevFinder:
    """Input devices under /dev/input, through python-evdev."""

    def names(self) -> list[str]:
        import evdev

        found = []
        for path in evdev.list_devices():
            try:
                device = evdev.InputDevice(path)
            except OSError:
                continue
            found.append(device.name)
            device.close()
        return found

    def open(self, name: str) -> OpenDevice | None:
        import evdev

        for path in evdev.list_devices():
            try:
                device = evdev.InputDevice(path)
            except OSError:  # unplugged while we looked, or not ours to read
                continue
            if device.name != name:
                device.close()
                continue
            try:
                device.grab()
            except OSError as error:
                log.warning("USB switch device %r: cannot grab it (%s); its keys also reach "
                            "other programs", name, error)
            try:
                fcntl.ioctl(device.fd, EVIOCSCLOCKID, struct.pack("i", time.CLOCK_MONOTONIC))
                monotonic = True
            except OSError:  # kernels before 3.4: fall back to the time of reading
                monotonic = False
            return OpenDevice(device.fd, name, device.close, monotonic)
        return None


def key_code(name: str) -> int:
    """The numeric code of a key or button name such as ``KEY_SPACE`` or ``BTN_0``."""
    from evdev import ecodes

    code = ecodes.ecodes[name]
    return int(code)


class UsbSwitches:
    """Feeds the edges of USB switch interfaces to their switches, surviving unplugging."""

    def __init__(
        self,
        switches: Iterable[Switch],
        finder: DeviceFinder | None = None,
        *,
        rescan_seconds: float = RESCAN_SECONDS,
    ) -> None:
        self._finder: DeviceFinder = finder or EvdevFinder()
        self._rescan_seconds = rescan_seconds
        # device name → key code → switch
        self._wanted: dict[str, dict[int, Switch]] = {}
        for switch in switches:
            device, code = switch.config.device, switch.config.code
            if device is None or code is None:
                continue
            self._wanted.setdefault(device, {})[key_code(code)] = switch
        self._open: dict[int, OpenDevice] = {}
        self._reported_missing: set[str] = set()
        self._wake_read, self._wake_write = os.pipe()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="usb-switches", daemon=True)
        self._thread.start()

    @property
    def missing(self) -> list[str]:
        """Names of the configured devices that are not plugged in now."""
        with self._lock:
            connected = {device.name for device in self._open.values()}
        return sorted(set(self._wanted) - connected)

    def _run(self) -> None:
        next_scan = 0.0
        while True:
            now = time.monotonic()
            if now >= next_scan:
                self._scan()
                next_scan = now + self._rescan_seconds
            with self._lock:
                watched = [*self._open, self._wake_read]
            readable, _, _ = select.select(watched, [], [], max(0.0, next_scan - now))
            for fd in readable:
                if fd == self._wake_read:
                    return
                self._read(fd)

    def _scan(self) -> None:
        with self._lock:
            connected = {device.name for device in self._open.values()}
        for name in self._wanted:
            if name in connected:
                continue
            device = self._finder.open(name)
            if device is None:
                if name not in self._reported_missing:
                    self._reported_missing.add(name)
                    log.warning(
                        "USB switch device %r is not plugged in (inputs %s wait for it; "
                        "looking again every %g s); devices found: %s",
                        name, ", ".join(s.name for s in self._wanted[name].values()),
                        self._rescan_seconds, ", ".join(self._finder.names()) or "none",
                    )
                continue
            with self._lock:
                self._open[device.fd] = device
            if name in self._reported_missing:
                self._reported_missing.discard(name)
                log.info("USB switch device %r is plugged in again", name)
            else:
                log.info("USB switch device %r connected", name)

    def _read(self, fd: int) -> None:
        device = self._open[fd]
        try:
            data = os.read(fd, INPUT_EVENT.size * 64)
        except OSError:  # ENODEV: unplugged
            data = b""
        if not data:
            self._lost(device)
            return
        read_at = time.monotonic()
        codes = self._wanted[device.name]
        for offset in range(0, len(data) - INPUT_EVENT.size + 1, INPUT_EVENT.size):
            seconds, microseconds, kind, code, value = INPUT_EVENT.unpack_from(data, offset)
            # Key repeats say nothing new: the switch is still held.
            if kind != EV_KEY or value == KEY_REPEATED:
                continue
            switch = codes.get(code)
            if switch is not None:
                at = seconds + microseconds / 1e6 if device.monotonic else read_at
                switch.edge(value == KEY_PRESSED, at)

    def _lost(self, device: OpenDevice) -> None:
        with self._lock:
            del self._open[device.fd]
        with contextlib.suppress(OSError):
            device.close()
        self._reported_missing.add(device.name)
        log.warning(
            "USB switch device %r was unplugged; its inputs are released and it is used again "
            "when plugged back in", device.name,
        )
        now = time.monotonic()
        for switch in self._wanted[device.name].values():
            if switch.filter.raw:
                switch.edge(False, now)  # a switch held at the unplugging is let go

    def close(self) -> None:
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=2)
        with self._lock:
            devices = list(self._open.values())
            self._open.clear()
        for device in devices:
            with contextlib.suppress(OSError):
                device.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
