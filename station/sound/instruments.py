"""Instruments: each owns a pyo graph with a fixed pool of voices, built once.

Playing a note sets a voice's frequency and level and triggers its envelope; nothing is created
on the press path. When every voice is busy, the one released longest ago is reused, else the
oldest held one.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import pyo

from station.sound.catalog import INSTRUMENT_NAMES


class Voice:
    """One monophonic voice: a frequency control, envelopes and the sound they shape.

    The first envelope sets the level; any others (brightness, say) are triggered with it.
    """

    def __init__(self, frequency: Any, envelopes: tuple[Any, ...], output: Any) -> None:
        self.frequency = frequency
        self.envelopes = envelopes
        self.output = output
        self.held = False
        # Order stamps for voice stealing (larger = more recent).
        self.started = 0
        self.released = 0

    def start(self, hertz: float, level: float, stamp: int) -> None:
        self.frequency.value = hertz
        self.envelopes[0].mul = level
        for envelope in self.envelopes:
            envelope.play()
        self.held = True
        self.started = stamp

    def stop(self, stamp: int) -> None:
        for envelope in self.envelopes:
            envelope.stop()
        self.held = False
        self.released = stamp


class Instrument:
    """Base class: a pool of `polyphony` voices mixed to one mono output."""

    name: ClassVar[str]
    attack_seconds: ClassVar[float]

    def __init__(self, polyphony: int = 8) -> None:
        self._clock = itertools.count(1)
        self.voices = [self._build_voice() for _ in range(polyphony)]
        self.output = pyo.Mix([voice.output for voice in self.voices], voices=1)

    def _build_voice(self) -> Voice:
        raise NotImplementedError

    def _free_voice(self) -> Voice:
        released = [voice for voice in self.voices if not voice.held]
        if released:
            return min(released, key=lambda voice: voice.released)
        return min(self.voices, key=lambda voice: voice.started)

    def note_on(self, hertz: float, level: float) -> Voice:
        """Sound `hertz` at `level` (0–1, linear) on a free or stolen voice."""
        voice = self._free_voice()
        voice.start(hertz, level, next(self._clock))
        return voice

    def note_off(self, voice: Voice) -> None:
        """Let `voice` ring out through its release."""
        voice.stop(next(self._clock))

    def silence(self) -> None:
        """Release every voice (a sound-set change or shutdown)."""
        for voice in self.voices:
            if voice.held:
                self.note_off(voice)


class Bell(Instrument):
    """A soft FM bell: bright at the strike, mellowing as it decays."""

    name = "bell"
    attack_seconds = 0.005

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(440.0)
        envelope = pyo.Adsr(
            attack=self.attack_seconds, decay=1.8, sustain=0.0, release=0.7, dur=0, mul=0.0
        )
        brightness = pyo.Adsr(attack=0.002, decay=0.6, sustain=0.15, release=0.5, dur=0)
        voice_output = pyo.FM(
            carrier=frequency, ratio=1.4, index=brightness * 2.5 + 0.3, mul=envelope
        )
        return Voice(frequency, (envelope, brightness), voice_output)


class Pluck(Instrument):
    """A plucked string: a bright, quickly filtered saw with a fast decay."""

    name = "pluck"
    attack_seconds = 0.003

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(220.0)
        envelope = pyo.Adsr(
            attack=self.attack_seconds, decay=0.9, sustain=0.0, release=0.25, dur=0, mul=0.0
        )
        tone = pyo.RCOsc(freq=frequency, sharp=0.7)
        voice_output = pyo.ButLP(tone, freq=frequency * 5, mul=envelope)
        return Voice(frequency, (envelope,), voice_output)


INSTRUMENTS: dict[str, type[Instrument]] = {cls.name: cls for cls in (Bell, Pluck)}
assert tuple(INSTRUMENTS) == INSTRUMENT_NAMES, "keep station.sound.catalog in step"
