"""From ingest's writer thread to the browsers: a version number that grows with each
committed batch, and a wake-up for the event loop that serves the pages.

Threads: `changed` is called on ingest's writer thread and never blocks; it bumps the
version under a lock and asks the event loop (if one is bound) to wake whoever waits.
Everything else runs on the event loop. A slow browser only delays its own stream: each
stream sends the newest state when it gets to it, never a queue of old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class LiveHub:
    """Tells the server-sent event streams that the store has something new."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake streams on `loop` (the web server's, once it runs)."""
        self._loop = loop
        self._woken = asyncio.Event()

    def changed(self, *_: object) -> None:
        """A batch was committed (called on ingest's writer thread; returns at once)."""
        with self._lock:
            self._version += 1
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # RuntimeError: the loop closed in between, so nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._woken is not None:
            woken, self._woken = self._woken, asyncio.Event()
            woken.set()

    async def wait_newer(self, version: int, timeout: float) -> int:
        """The version once it is newer than `version`, or the same after `timeout` s."""
        while self.version <= version:
            woken = self._woken
            if woken is None:
                return self.version
            try:
                await asyncio.wait_for(woken.wait(), timeout)
            except TimeoutError:
                break
        return self.version
