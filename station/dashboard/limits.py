"""How many failed sign-ins an account and a network address may have in a window.

Kept in memory: a restart forgets them, which an attacker cannot cause from outside, and a
database that is down does not turn the limit off. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    """Counts failed sign-ins per account and per address over the last `window_s` seconds."""

    def __init__(self, per_account: int, per_address: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def refusal(self, account: str, address: str) -> str:
        """Why a sign-in must wait, in words; "" when it may go ahead."""
        now = self.clock()
        with self._lock:
            minutes = max(1, round(self.window_s / 60))
            if len(self._recent(("account", account), now)) >= self.per_account:
                return (f"Too many failed sign-ins for this account. Wait {minutes} minutes "
                        "and try again, or ask an admin to set a new password.")
            if len(self._recent(("address", address), now)) >= self.per_address:
                return (f"Too many failed sign-ins from this device. Wait {minutes} minutes "
                        "and try again.")
        return ""

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent(("account", account), now).append(now)
            self._recent(("address", address), now).append(now)
            # Forget keys with nothing recent, so a scan of many names stays small.
            if len(self._failures) > 10000:
                self._failures = {key: times for key, times in self._failures.items()
                                  if times and now - times[-1] < self.window_s}

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(("account", account), None)
