"""Activities: a run of cues the station sounds by itself, one after another (docs/cues.md).

An activity file (`station.config.activity`) says how many cues a run has, what answers them
(its targets, or every play input), their window and re-cues, and the pause after each
outcome. `ActivityRunner` starts each cue through the `CueRunner`, waits for it to end, pauses,
and starts the next; the therapist may stop it at any time (``stop_activity``), and ending the
session stops it. Each of its cues names the activity in its `cue` event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping

from station.config.activity import Activity
from station.engine.control_socket import ControlError
from station.engine.cues import CueRequest, CueRunner

log = logging.getLogger(__name__)

# The longest a cue can take: a 60 s window and three re-cues, with their pauses.
LONGEST_CUE_SECONDS = 4 * 62.0


class ActivityRunner:
    """Runs one activity at a time on its own thread."""

    def __init__(self, cues: CueRunner, activities: Callable[[], Mapping[str, Activity]],
                 play_inputs: Collection[str]) -> None:
        self._cues = cues
        self._activities = activities  # the station's, as last (re)loaded
        self._play_inputs = tuple(play_inputs)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.activity = ""  # the activity running now, "" when none

    def start(self, name: str) -> None:
        """Start activity `name`; ControlError (nothing starts) if there is no such activity,
        one already runs, or a cue waits for its answer."""
        activities = self._activities()
        activity = activities.get(name)
        if activity is None:
            raise ControlError(f"no activity {name!r}; available: "
                               f"{', '.join(sorted(activities)) or 'none'}")
        with self._lock:
            if self.activity:
                raise ControlError(f"activity {self.activity} is running; stop it first")
            if self._cues.cue:
                raise ControlError(f"cue {self._cues.cue} is still waiting for its answer; "
                                   "wait for it to end or send cancel_cue")
            section = activity.activity
            request = CueRequest(targets=tuple(section.targets) or self._play_inputs,
                                 window_seconds=section.window_seconds, recues=section.recues,
                                 quieter_db=section.quieter_db, activity=name)
            self._cues.start(request)  # the first cue now: its refusal is the command's
            self.activity = name
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, args=(section.cues, request,
                                                                    section.pause_seconds),
                                            name="activity", daemon=True)
            self._thread.start()
        log.info("activity %s started (%d cues)", name, section.cues)

    def stop(self) -> bool:
        """Stop the running activity and its waiting cue; False if none runs."""
        with self._lock:
            if not self.activity:
                return False
            self._stopping.set()
            thread = self._thread
        self._cues.cancel()
        if thread is not None:
            thread.join(5)
        return True

    def _run(self, cues: int, request: CueRequest, pause: float) -> None:
        name = request.activity
        sounded = 1
        try:
            while True:
                while not self._cues.wait_until_done(0.5):
                    if self._stopping.is_set():
                        return
                if self._stopping.is_set() or sounded >= cues:
                    return
                if self._stopping.wait(pause):
                    return
                try:
                    self._cues.start(request)
                except ControlError as refused:  # the audio was lost, say: the run ends
                    log.warning("activity %s ended after %d cues: %s", name, sounded, refused)
                    return
                sounded += 1
        finally:
            with self._lock:
                self.activity = ""
            log.info("activity %s ended after %d cues", name, sounded)
