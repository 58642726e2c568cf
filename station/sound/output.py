"""The engine's sound output, surviving the loss of its audio device.

`AudioOutput` owns the audio server and the sound engine built on it and passes presses and
changes through. When the server dies (the JACK server quit) or stalls (the sound card went
away, the JACK server froze: no audio block asked for in `STALL_SECONDS`), presses play
nothing but the engine keeps running, so inputs are still counted and recorded; the output
retries with back-off and, once a server starts again, rebuilds the sound engine with the
current sound set, client and volume.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from station.config import AudioSection, ClientProfile, SoundSet
from station.errors import AudioError
from station.sound.engine import CuePhrase, PreparedSoundSet, SoundEngine
from station.sound.instruments import Voice
from station.sound.server import AudioServer

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 30.0
# How long the health check waits for a lost server to shut down. A server whose device died
# shuts down in milliseconds; one whose device is frozen (a stopped jackd) blocks in libjack
# until the device continues or dies, possibly forever. Past this bound the teardown goes on
# on its own thread and retries wait for it: a new client of a frozen JACK server would block
# the health check (and with it the systemd watchdog's ping) the same way.
TEARDOWN_SECONDS = 2.0
# A cue's note is heard within a block or two; past this its time is the time it was started.
HEARD_WAIT_SECONDS = 0.05
# How often the audio clock is read meanwhile: the heard time is this much late at most.
HEARD_POLL_SECONDS = 0.0002
PLAYING = "playing"
LOST = "lost"


class AudioOutput:
    """The audio server and sound engine, rebuilt after the device is lost."""

    def __init__(
        self,
        audio: AudioSection,
        sound_set: SoundSet,
        client: ClientProfile,
        sound_sets: Iterable[SoundSet],
        *,
        jack_name: str,
    ) -> None:
        self._settings = audio
        self._jack_name = jack_name
        self._sound_set = sound_set
        self._client = client
        self._sound_sets = list(sound_sets)
        self._volume = 1.0
        # Held while the sound engine is swapped, so that no press reaches an engine whose
        # server is being shut down. Uncontended on the press path.
        self._swap = threading.Lock()
        self.audio = AudioServer(audio, jack_name=jack_name)
        self.audio.start()
        self._sound: SoundEngine | None = self._build_sound()
        self.state = PLAYING
        # Why the audio was lost ("stalled: no audio block for 2.0 s"); None while playing.
        self.problem: str | None = None
        self.losses = 0
        self._teardown: threading.Thread | None = None
        self._retry_delay = FIRST_RETRY_SECONDS
        self._next_retry = 0.0

    def _build_sound(self) -> SoundEngine:
        sound = SoundEngine(
            self._settings.channels,
            self._sound_set,
            self._client,
            sample_rate=self._settings.sample_rate,
            sound_sets=self._sound_sets,
        )
        sound.set_volume(self._volume)
        return sound

    # -- the press path ------------------------------------------------------------------
    def press(self, slot: int) -> bool:
        with self._swap:
            return self._sound.press(slot) if self._sound is not None else False

    def release(self, slot: int) -> None:
        with self._swap:
            if self._sound is not None:
                self._sound.release(slot)

    # -- variable sensors (their own thread, station/inputs/sensors.py) -------------------
    def zone(self, slot: int, zone: int) -> bool:
        with self._swap:
            return self._sound.zone(slot, zone) if self._sound is not None else False

    def express(self, slot: int, value: float, glide_seconds: float) -> None:
        with self._swap:
            if self._sound is not None:
                self._sound.express(slot, value, glide_seconds)

    # -- cues (station/engine/cues.py) -----------------------------------------------------
    def cue_phrase(self) -> CuePhrase | None:
        """The current sound set's cue; None while the audio is lost."""
        with self._swap:
            return self._sound.cue if self._sound is not None else None

    def cue_note_on(self, phrase: CuePhrase, hertz: float, level: float
                    ) -> tuple[Voice, int] | None:
        """Start one note of `phrase`; (its voice, the audio clock in samples just before),
        or None if the sound engine was rebuilt (or lost) since the phrase was taken."""
        with self._swap:
            sound = self._sound
            if sound is None or sound.cue is not phrase:
                return None
            samples = self.audio.samples()
            return phrase.instrument.note_on(hertz, level), samples

    def heard_at(self, onset_sample: int, handed_at: float) -> float:
        """When (monotonic) a note started at `handed_at`, just after the audio clock read
        `onset_sample`, went out: the first moment the clock is seen past that sample, when
        the block that holds its first sample has been rendered and handed to the device.
        Polled off the press path (by the thread that started the cue), without the engine's
        lock; a clock that does not move (a server driven block by block, audio lost) gives
        `handed_at` after HEARD_WAIT_SECONDS."""
        while self.audio.samples() <= onset_sample:
            if time.monotonic() - handed_at > HEARD_WAIT_SECONDS:
                return handed_at
            time.sleep(HEARD_POLL_SECONDS)
        return time.monotonic()

    def cue_note_off(self, phrase: CuePhrase, voice: Voice) -> None:
        with self._swap:
            sound = self._sound
            if sound is not None and sound.cue is phrase:
                phrase.instrument.note_off(voice)

    # -- changes, remembered for a rebuilt engine ------------------------------------------
    def set_sound_set(self, sound_set: SoundSet | PreparedSoundSet) -> None:
        # Prepared (samples checked, rhythms built) before taking the lock, so that presses
        # are not held up by it; only the switch itself is under the lock.
        sound = self._sound
        prepared = sound.prepare(sound_set) if (
            sound is not None and isinstance(sound_set, SoundSet)) else sound_set
        with self._swap:
            if isinstance(sound_set, SoundSet):
                self._sound_set = sound_set
            if self._sound is not None:
                # A sound engine rebuilt in the meantime prepares the set for itself.
                self._sound.set_sound_set(prepared if self._sound is sound else sound_set)

    def set_client(self, client: ClientProfile) -> None:
        with self._swap:
            self._client = client
            if self._sound is not None:
                self._sound.set_client(client)

    def set_volume(self, level: float) -> None:
        with self._swap:
            self._volume = level
            if self._sound is not None:
                self._sound.set_volume(level)

    def load_samples(self, sound_sets: Iterable[SoundSet]) -> None:
        """Read the samples of `sound_sets` (ConfigError if one cannot be decoded); they are
        the sound sets a rebuilt engine loads."""
        sound_sets = list(sound_sets)
        # Read without the lock: decoding a long file must not hold up presses.
        sound = self._sound
        if sound is not None:
            sound.load_samples(sound_sets)
        self._sound_sets = sound_sets

    def release_all(self) -> None:
        with self._swap:
            if self._sound is not None:
                self._sound.release_all()

    def fade_out(self) -> None:
        with self._swap:
            if self._sound is not None:
                self._sound.fade_out()

    def rest_unused(self) -> None:
        """Rest instruments the sound set no longer uses (SoundEngine.rest_unused)."""
        with self._swap:
            if self._sound is not None:
                self._sound.rest_unused()

    # -- health --------------------------------------------------------------------------
    def check(self, now: float | None = None) -> None:
        """Notice a lost or stalled server and retry on schedule; called by the engine's health
        loop about once a second.

        `now` is the retry schedule's clock (monotonic seconds, default now); the stall watch
        always reads the real monotonic clock, as pyo's sample counter moves in real time.
        """
        now = time.monotonic() if now is None else now
        if self.state == PLAYING:
            problem = self.audio.problem()
            if problem is not None:
                self._lose(now, problem)
        elif self.state == LOST and now >= self._next_retry:
            self._retry(now)

    def _lose(self, now: float, problem: str) -> None:
        # LOST before the teardown, which may block: from here presses play nothing.
        with self._swap:
            self._sound = None
            self.state = LOST
            self.problem = problem
        self.losses += 1
        self._retry_delay = FIRST_RETRY_SECONDS
        self._next_retry = now + self._retry_delay
        log.error(
            "audio lost: %s (%s backend); presses are still counted; retrying in %.0f s",
            problem, self.audio.backend, self._retry_delay,
        )
        self._teardown = threading.Thread(
            target=self.audio.stop, name="audio-teardown", daemon=True
        )
        self._teardown.start()
        self._teardown.join(TEARDOWN_SECONDS)
        if self._teardown.is_alive():
            log.warning(
                "the lost %s server did not shut down within %.0f s (its device is frozen); "
                "retrying once it has", self.audio.backend, TEARDOWN_SECONDS,
            )

    def _retry(self, now: float) -> None:
        if self._teardown is not None and self._teardown.is_alive():
            self._back_off(now, "the lost server has not shut down yet: its device is frozen")
            return
        # The backend that was lost, not `auto` again: falling back to the silent backend
        # would look healthy and play nothing.
        settings = self._settings.model_copy(update={"backend": self.audio.backend})
        audio = AudioServer(settings, jack_name=self._jack_name)
        try:
            audio.start()
            sound = self._build_sound()
        except AudioError as error:
            audio.stop()
            self._back_off(now, str(error))
            return
        with self._swap:
            self.audio = audio
            self._sound = sound
            self.state = PLAYING
            self.problem = None
        log.info("audio back on the %s backend", audio.backend)

    def torn_down(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a lost server to finish shutting down; True once
        it has, or when none is shutting down."""
        if self._teardown is not None:
            self._teardown.join(timeout)
            return not self._teardown.is_alive()
        return True

    def _back_off(self, now: float, why: str) -> None:
        self._retry_delay = min(self._retry_delay * 2, LONGEST_RETRY_SECONDS)
        self._next_retry = now + self._retry_delay
        log.warning("audio still unavailable (%s); retrying in %.0f s", why, self._retry_delay)

    @property
    def sound(self) -> SoundEngine | None:
        """The current sound engine; None while the audio is lost."""
        return self._sound
