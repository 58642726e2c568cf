"""Signal handlers that do their work on a thread of their own.

Python runs a signal handler on the main thread between two bytecodes, possibly while that
thread holds a lock: inside `threading.Event.wait()` it holds the event's own lock for a few
bytecodes on every call. A handler that sets that event (to stop) would then wait for the lock
its own thread holds, forever: a process that ignores SIGTERM, now and then. Starting a thread
takes no lock the main thread may hold; the thread does the work once the handler returns.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any


def on_signals(signums: Iterable[int], action: Callable[[], object]) -> dict[int, Any]:
    """Run `action` on a new thread whenever one of `signums` arrives; the previous handlers."""

    def handler(signum: int, frame: object) -> None:
        threading.Thread(target=action, name=f"signal-{signum}", daemon=True).start()

    return {signum: signal.signal(signum, handler) for signum in signums}
