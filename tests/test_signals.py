"""A stop signal is obeyed even when it lands while the main thread holds the stop event's lock
(inside `Event.wait()` it does, a few bytecodes at a time): the cause of an agent that now and
then ignored SIGTERM."""

from __future__ import annotations

import os
import signal
import threading

from station.signals import on_signals


def test_a_signal_landing_inside_the_events_own_lock_still_sets_it() -> None:
    stop = threading.Event()
    previous = on_signals((signal.SIGUSR1,), stop.set)
    try:
        # As in Event.wait(): the main thread holds the event's lock when the signal arrives.
        with stop._cond:  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGUSR1)
            # The handler has run by now (Python runs it at the next bytecode); a handler that
            # set the event itself would be stuck on this very lock.
            assert not stop.is_set()
        assert stop.wait(5), "the stop was lost"
    finally:
        signal.signal(signal.SIGUSR1, previous[signal.SIGUSR1])
