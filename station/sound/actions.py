"""What a play input does when pressed and released, prepared when a sound set is chosen.

A sound set's slots become `SlotAction`s once, off the press path: frequencies are computed,
samples looked up, patterns parsed. A press then only picks voices and triggers envelopes.
"""

from __future__ import annotations

import threading
from typing import Any

import pyo

from station.config import RhythmConfig
from station.music.catalog import DRUM_PIECES
from station.sound.instruments import DrumKit, Instrument, LoadedSample, Sampler, Voice

# A pure fifth above the drone's root, in semitones' frequency ratio.
FIFTH_RATIO = 2.0 ** (7 / 12)
SOFT_HIT = 0.55


class SlotAction:
    """Base class: a press starts something; a release may end it."""

    def press(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """Default: nothing to end (toggles and one-shot hits)."""

    def stop(self) -> None:
        """End whatever this action still has sounding (a sound-set change or shutdown)."""
        self.release()


class HeldVoices:
    """Voices a slot started, released by that slot only while no newer note stole them."""

    def __init__(self) -> None:
        self._held: list[tuple[Instrument, Voice, int]] = []

    def add(self, instrument: Instrument, voice: Voice) -> None:
        self._held.append((instrument, voice, voice.started))

    def release(self) -> None:
        held, self._held = self._held, []
        for instrument, voice, stamp in held:
            if voice.held and voice.started == stamp:
                instrument.note_off(voice)


class PlayNotes(SlotAction):
    """A note or a chord: held while the input is held, ringing out after release."""

    def __init__(self, instrument: Instrument, hertz: tuple[float, ...], level: float) -> None:
        self.instrument = instrument
        self.hertz = hertz
        self.level = level
        self.held = HeldVoices()

    def press(self) -> None:
        self.held.release()
        for hertz in self.hertz:
            self.held.add(self.instrument, self.instrument.note_on(hertz, self.level))

    def release(self) -> None:
        self.held.release()


class PlayMelody(SlotAction):
    """A one-switch song: each press plays the next note of the melody, wrapping at the end.

    The position is shared by every slot of the sound set that plays the melody, so two
    players can take turns through one song.
    """

    def __init__(self, instrument: Instrument, melody: MelodyCursor, level: float) -> None:
        self.instrument = instrument
        self.melody = melody
        self.level = level
        self.held = HeldVoices()

    def press(self) -> None:
        self.held.release()
        self.held.add(self.instrument, self.instrument.note_on(self.melody.advance(), self.level))

    def release(self) -> None:
        self.held.release()


class PlayZones(SlotAction):
    """A variable sensor's zones, each a note of the scale: entering a zone ends the last
    zone's note and plays its own. A plain press (a switch on this slot) plays the lowest."""

    def __init__(self, instrument: Instrument, hertz: tuple[float, ...], level: float) -> None:
        self.instrument = instrument
        self.hertz = hertz
        self.level = level
        self.held = HeldVoices()

    def enter(self, zone: int) -> None:
        self.held.release()
        self.held.add(self.instrument, self.instrument.note_on(self.hertz[zone], self.level))

    def press(self) -> None:
        self.enter(0)

    def release(self) -> None:
        self.held.release()


class ExpressNote(SlotAction):
    """A note whose level and brightness follow a variable sensor while it sounds.

    The sensor's value (0–1) drives the voice's swell, which scales its level and, on the bell,
    pad and pluck, its brightness; the client's ceiling and brightness cap still come after
    (the safety chain), so no value can pass them.
    """

    # The swell at the smallest value out of the dead zone: a touch is heard, softly.
    QUIETEST = 0.15

    def __init__(self, instrument: Instrument, hertz: float, level: float) -> None:
        self.instrument = instrument
        self.hertz = hertz
        self.level = level
        self.held = HeldVoices()
        self.voice: Voice | None = None
        self.value = 0.0

    def express(self, value: float, glide_seconds: float) -> None:
        """Follow `value` from now on, gliding there over `glide_seconds`."""
        self.value = value
        voice = self.voice
        if voice is not None and voice.held:
            voice.express(self.QUIETEST + (1.0 - self.QUIETEST) * value, glide_seconds)

    def press(self) -> None:
        self.held.release()
        voice = self.instrument.note_on(self.hertz, self.level)
        voice.express(self.QUIETEST + (1.0 - self.QUIETEST) * self.value, 0.0)
        self.held.add(self.instrument, voice)
        self.voice = voice

    def release(self) -> None:
        self.held.release()
        self.voice = None


class MelodyCursor:
    """The next note of a melody (frequencies in Hz); thread-safe."""

    def __init__(self, hertz: tuple[float, ...]) -> None:
        self.hertz = hertz
        self.position = 0
        self._lock = threading.Lock()

    def advance(self) -> float:
        with self._lock:
            hertz = self.hertz[self.position]
            self.position = (self.position + 1) % len(self.hertz)
        return hertz


class PlaySample(SlotAction):
    """One of the therapist's sound files, from its start; a release fades it out."""

    def __init__(self, sampler: Sampler, sample: LoadedSample, level: float) -> None:
        self.sampler = sampler
        self.sample = sample
        self.level = level
        self.held = HeldVoices()

    def press(self) -> None:
        self.held.release()
        self.held.add(self.sampler, self.sampler.play(self.sample, self.level))

    def release(self) -> None:
        self.held.release()


class HitDrum(SlotAction):
    """One drum-kit piece; it decays by itself, so a release does nothing."""

    def __init__(self, drums: DrumKit, piece: str, level: float) -> None:
        self.drums = drums
        self.piece = piece
        self.level = level

    def press(self) -> None:
        self.drums.hit(self.piece, self.level)


class ToggleDrone(SlotAction):
    """A drone on the root and the fifth above it: one press starts it, the next stops it."""

    def __init__(self, drone: Instrument, root_hertz: float, level: float) -> None:
        self.drone = drone
        self.hertz = (root_hertz, root_hertz * FIFTH_RATIO)
        self.level = level
        self.held = HeldVoices()
        self.sounding = False

    def press(self) -> None:
        if self.sounding:
            self.held.release()
        else:
            for hertz in self.hertz:
                # The fifth a little softer than the root, as a tanpura is tuned.
                level = self.level if hertz == self.hertz[0] else self.level * 0.7
                self.held.add(self.drone, self.drone.note_on(hertz, level))
        self.sounding = not self.sounding

    def stop(self) -> None:
        self.held.release()
        self.sounding = False


class Rhythm:
    """A looping drum pattern stepped by a pyo Pattern (built once per sound set, off the press
    path); start and stop only play or stop it."""

    def __init__(self, config: RhythmConfig, drums: DrumKit, tempo_bpm: float, level: float):
        self.name = config.name
        self.drums = drums
        self.level = level * config.velocity
        self.lines = [
            (piece, getattr(config, piece)) for piece in DRUM_PIECES if getattr(config, piece)
        ]
        self.step = 0
        self.step_seconds = 60.0 / tempo_bpm / config.steps_per_beat
        self._pattern: Any = pyo.Pattern(self._play_step, time=self.step_seconds)
        self.playing = False

    def _play_step(self) -> None:
        # Runs in pyo's audio callback: only voice triggers, no allocation of pyo objects.
        for piece, line in self.lines:
            mark = line[self.step % len(line)]
            if mark != ".":
                self.drums.hit(piece, self.level if mark == "x" else self.level * SOFT_HIT)
        self.step += 1

    def start(self) -> None:
        self.step = 0
        self._pattern.play()
        self.playing = True

    def stop(self) -> None:
        self._pattern.stop()
        self.playing = False


class ToggleRhythm(SlotAction):
    """One press starts the rhythm, the next stops it (what is sounding decays naturally)."""

    def __init__(self, rhythm: Rhythm) -> None:
        self.rhythm = rhythm

    def press(self) -> None:
        if self.rhythm.playing:
            self.rhythm.stop()
        else:
            self.rhythm.start()

    def stop(self) -> None:
        self.rhythm.stop()
