"""Cues and the client's answers to them, timed from the cue's first sample (docs/cues.md).

A cue sounds the sound set's call (`[cue]` of its file) and opens an opportunity to answer:

* the first accepted press on a target input after the call and within the window is a
  `response`, with `latency_ms` from the call's first sample;
* a press (any input) while the call still sounds is an `anticipation`;
* a press on another input after the call is an `off_target`;
* no target press within the window is a `no_response`. The cue may then sound again, up to
  `recues` times, each `quieter_db` quieter than the one before (never louder, on the same
  instrument), before the station waits for the therapist.

The call's first sample is placed on the audio clock: the note is started between two audio
blocks, so it is first heard in the block that begins at the sample counter read just before
(`onset_sample`), and `latency_ms` runs from the moment the audio server's counter was first
seen past that sample, when that block had been rendered and went out (`AudioOutput.heard_at`).
A cue's first note is started on the thread that received the command, before the cue's own
thread exists, so that a therapist's cue sounds in the next audio block.

Presses reach the runner from the event log's writer thread (`EventRecorder.press_listener`),
never from the press path; the runner's own thread plays the rest of the call (and every
re-cue) and closes the windows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from station.contract.events import EventType
from station.engine.control_socket import ControlError
from station.sound.engine import CuePhrase
from station.sound.instruments import Voice
from station.telemetry.eventlog import EventRecorder

log = logging.getLogger(__name__)

# A press queued just before its window closed still reaches the runner this much later.
GRACE_SECONDS = 0.2
# After a no-response, the call sounds again this long after the window closed.
RECUE_PAUSE_SECONDS = 1.0
# An observation tagged this soon after an opportunity ended belongs to it.
ATTACH_SECONDS = 10.0


@dataclass(frozen=True)
class CueRequest:
    """What a ``cue`` command asks for."""

    targets: tuple[str, ...]
    window_seconds: float = 5.0
    recues: int = 0
    quieter_db: float = 3.0
    command_id: str = ""
    activity: str = ""  # the activity that sounded it, if one did
    show: str = "both"  # "sound" (the call), "light" (the targets' LEDs) or "both"


class CueSound(Protocol):
    """How the runner plays the call: the station's audio output (AudioOutput)."""

    def cue_phrase(self) -> CuePhrase | None: ...

    def cue_note_on(self, phrase: CuePhrase, hertz: float, level: float
                    ) -> tuple[Voice, int] | None: ...

    def cue_note_off(self, phrase: CuePhrase, voice: Voice) -> None: ...

    def heard_at(self, onset_sample: int, handed_at: float) -> float: ...


@dataclass(frozen=True)
class _StartedNote:
    """A call's first note: its voice, the audio clock (samples) just before it was started,
    and when (monotonic) its first block was rendered: the call's onset."""

    voice: Voice
    onset_sample: int
    heard_at: float


@dataclass
class _Opportunity:
    cue: str
    attempt: int
    onset: float  # monotonic seconds: when the call's first note was rendered
    call_ends: float
    window_ends: float


class CueRunner:
    """Plays cues and sorts the presses after them; one cue at a time."""

    def __init__(self, sound: CueSound, recorder: EventRecorder, inputs: Collection[str],
                 clock: Callable[[], float] = time.monotonic,
                 lights: Callable[[Sequence[str], bool], None] | None = None,
                 lit_inputs: Collection[str] = ()) -> None:
        self._sound = sound
        self._recorder = recorder
        self.play_inputs = tuple(inputs)
        self._inputs = frozenset(inputs)
        # The inputs with an LED, and how to light them (the switch board's `cue_lights`).
        self._lights = lights
        self._lit_inputs = frozenset(lit_inputs)
        self._clock = clock
        self._lock = threading.Lock()
        self._presses: queue.SimpleQueue[tuple[str, float] | None] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None
        self.cue = ""  # the cue waiting for an answer, "" when none
        self._last_cue = ""
        self._last_ended = float("-inf")

    # -- commands (control thread) ----------------------------------------------------------
    def start(self, request: CueRequest) -> str:
        """Sound a cue; its id. ControlError (nothing sounds) when one is already waiting for
        its answer, a target is no play input, the window is shorter than the call, or the
        audio is lost."""
        unknown = [name for name in request.targets if name not in self._inputs]
        if unknown:
            raise ControlError(f"targets: {', '.join(map(repr, unknown))} is no play input of "
                               f"this station; available: {', '.join(sorted(self._inputs))}")
        if request.show != "sound" and not self._lit_inputs.intersection(request.targets):
            if request.show == "light":
                raise ControlError("show: none of the targets has an LED (led_pin in the "
                                   "station file); sound the cue instead")
            request = replace(request, show="sound")  # "both" on switches without an LED
        phrase = self._sound.cue_phrase()
        if phrase is None and request.show != "light":
            raise ControlError("the audio is lost: a cue would not be heard; a cue with "
                               "show = \"light\" can still be seen")
        if phrase is not None and request.show != "light" and (
                request.window_seconds <= phrase.seconds):
            raise ControlError(
                f"window_seconds: {request.window_seconds:g} s is not longer than the cue "
                f"itself ({phrase.seconds:g} s); give the client time to answer after it")
        with self._lock:
            if self.cue:
                raise ControlError(f"cue {self.cue} is still waiting for its answer; wait for "
                                   "it to end or send cancel_cue")
            self.cue = uuid.uuid4().hex[:8]
            self._cancelled.clear()
            while not self._presses.empty():  # presses from before this cue
                self._presses.get_nowait()
            first: _StartedNote | None = None
            if phrase is not None and request.show != "light":
                # Sounded here, not on the cue's thread: starting a thread and handing it the
                # GIL would delay the call by up to a millisecond. Nothing else is done until
                # its block has been rendered, so that the audio thread does not wait for the
                # GIL then.
                first = self._sound_first_note(phrase, phrase.level)
                if first is None:
                    self.cue = ""
                    raise ControlError("the audio is lost: a cue would not be heard; a cue "
                                       "with show = \"light\" can still be seen")
            self._thread = threading.Thread(target=self._run,
                                            args=(self.cue, request, phrase, first),
                                            name="cue", daemon=True)
            self._thread.start()
            return self.cue

    def cancel(self) -> bool:
        """End the waiting cue without an outcome (the therapist moves on); False if none."""
        with self._lock:
            if not self.cue:
                return False
            self._cancelled.set()
            self._presses.put(None)
            thread = self._thread
        if thread is not None:
            thread.join(5)
        return True

    def wait_until_done(self, timeout: float) -> bool:
        """Wait for the cue that sounds or waits now to end; False if it has not after
        `timeout` seconds."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def attached_cue(self) -> str:
        """The cue an observation tagged now belongs to: the one waiting for its answer, or
        the last one if it ended less than ATTACH_SECONDS ago; "" otherwise."""
        with self._lock:
            if self.cue:
                return self.cue
            if self._clock() - self._last_ended <= ATTACH_SECONDS:
                return self._last_cue
            return ""

    # -- presses (the event log's writer thread) -------------------------------------------
    def pressed(self, input_name: str, at: float) -> None:
        if self.cue:
            self._presses.put((input_name, at))

    # -- the cue's own thread ----------------------------------------------------------------
    def _run(self, cue: str, request: CueRequest, phrase: CuePhrase | None,
             first: _StartedNote | None) -> None:
        level = phrase.level if phrase is not None else 0.0
        try:
            for attempt in range(1, request.recues + 2):
                answered = self._attempt(cue, attempt, request, phrase, level,
                                         first if attempt == 1 else None)
                if answered or self._cancelled.is_set():
                    return
                if attempt <= request.recues and self._cancelled.wait(RECUE_PAUSE_SECONDS):
                    return
                level *= 10.0 ** (-request.quieter_db / 20.0)  # never louder than before
        except Exception:  # a cue must never take the engine down
            log.exception("cue %s stopped", cue)
        finally:
            with self._lock:
                self._last_cue, self._last_ended = cue, self._clock()
                self.cue = ""

    def _attempt(self, cue: str, attempt: int, request: CueRequest, phrase: CuePhrase | None,
                 level: float, first: _StartedNote | None) -> bool:
        """Give the cue once (its first note already started if `first`) and sort the presses
        until the window ends; True if answered (or if it could not be given)."""
        lit = [name for name in request.targets if name in self._lit_inputs] if (
            request.show != "sound" and self._lights is not None) else []
        try:
            return self._attempt_lit(cue, attempt, request, phrase, level, lit, first)
        finally:
            if lit and self._lights is not None:
                self._lights(lit, False)

    def _attempt_lit(self, cue: str, attempt: int, request: CueRequest,
                     phrase: CuePhrase | None, level: float, lit: list[str],
                     first: _StartedNote | None) -> bool:
        notes: list[tuple[float, float]] = []  # (when, hertz) still to start
        offs: list[tuple[float, Voice]] = []  # (when, voice) still to end
        detail: dict[str, object] = {}
        if request.show == "light" or phrase is None:
            if lit and self._lights is not None:
                self._lights(lit, True)
            onset = call_ends = self._clock()
        else:
            if first is None:
                first = self._sound_first_note(phrase, level)
                if first is None:
                    log.warning("cue %s: the audio was lost before the call sounded", cue)
                    return True  # nothing was heard: no opportunity to record
            if lit and self._lights is not None:
                self._lights(lit, True)
            voice, onset_sample, onset = first.voice, first.onset_sample, first.heard_at
            notes = [(onset + index * phrase.note_seconds, hertz)
                     for index, hertz in enumerate(phrase.hertz[1:], start=1)]
            offs = [(onset + phrase.note_seconds, voice)]
            call_ends = onset + phrase.seconds
            detail = {"call_ms": round(phrase.seconds * 1000.0), "level": round(level, 4),
                      "onset_sample": onset_sample}
        opportunity = _Opportunity(cue, attempt, onset, call_ends,
                                   onset + request.window_seconds)
        self._recorder.record(EventType.CUE, None, None, onset, detail={
            "cue": cue, "attempt": attempt, "targets": list(request.targets),
            "window_ms": round(request.window_seconds * 1000.0), "show": request.show,
            **({"lit": lit} if lit else {}), **detail,
            **({"command_id": request.command_id} if request.command_id else {}),
            **({"activity": request.activity} if request.activity else {}),
        })
        closes = opportunity.window_ends + GRACE_SECONDS
        assert phrase is not None or not (notes or offs)
        while True:
            now = self._clock()
            while offs and offs[0][0] <= now and phrase is not None:
                self._sound.cue_note_off(phrase, offs.pop(0)[1])
            while notes and notes[0][0] <= now and phrase is not None:
                when, hertz = notes.pop(0)
                played = self._sound.cue_note_on(phrase, hertz, level)
                if played is not None:
                    offs.append((when + phrase.note_seconds, played[0]))
            if now >= closes:
                break
            deadline = min([closes] + [when for when, _ in notes] + [when for when, _ in offs])
            try:
                press = self._presses.get(timeout=max(0.0, deadline - now))
            except queue.Empty:
                continue
            if press is None or self._sort(opportunity, request, *press):
                if phrase is not None:
                    for _, held in offs:
                        self._sound.cue_note_off(phrase, held)
                return True  # cancelled, or answered
        self._recorder.record(EventType.NO_RESPONSE, None, None, opportunity.window_ends,
                              detail={"cue": cue, "attempt": attempt,
                                      "final": attempt > request.recues})
        return False

    def _sound_first_note(self, phrase: CuePhrase, level: float) -> _StartedNote | None:
        """Start the call's first note and wait until its block is rendered; None if the
        audio was lost."""
        started = self._sound.cue_note_on(phrase, phrase.hertz[0], level)
        if started is None:
            return None
        handed_at = self._clock()
        voice, onset_sample = started
        return _StartedNote(voice, onset_sample, self._sound.heard_at(onset_sample, handed_at))

    def _sort(self, opportunity: _Opportunity, request: CueRequest, input_name: str,
              at: float) -> bool:
        """Record what the press at `at` was to the opportunity; True if it answered it."""
        if at < opportunity.onset or at > opportunity.window_ends:
            return False  # before this call, or after its window: no part of it
        after_ms = round((at - opportunity.onset) * 1000.0, 1)
        detail = {"cue": opportunity.cue, "attempt": opportunity.attempt}
        if at < opportunity.call_ends:
            self._recorder.record(EventType.ANTICIPATION, input_name, None, at,
                                  detail={**detail, "after_ms": after_ms})
            return False
        if input_name not in request.targets:
            self._recorder.record(EventType.OFF_TARGET, input_name, None, at,
                                  detail={**detail, "after_ms": after_ms})
            return False
        self._recorder.record(EventType.RESPONSE, input_name, None, at,
                              detail={**detail, "latency_ms": after_ms})
        return True
