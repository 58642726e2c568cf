"""The sound engine: sound set → notes on instruments → safety chain → audio out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyo

from station.config import ClientProfile, SoundSet
from station.sound.instruments import INSTRUMENTS, Instrument, Voice
from station.sound.theory import frequency, midi_note

log = logging.getLogger(__name__)

FADE_SECONDS = 0.5


def dbfs_to_amplitude(dbfs: float) -> float:
    return float(10.0 ** (dbfs / 20.0))


class SafetyChain:
    """The end of the signal chain, which no sound-set setting can bypass.

    Levels are relative to the client's ceiling (a note at full level peaks at the ceiling),
    so lowering the ceiling turns everything down instead of squashing it. Many notes at once
    meet a fast limiter just under the ceiling, and a hard clip at the ceiling itself so that
    not even the limiter's attack can overshoot it. A fade runs at start and stop.
    """

    def __init__(
        self, source: object, channels: int, ceiling_dbfs: float, sample_rate: int
    ) -> None:
        self.fade = pyo.SigTo(0.0, time=FADE_SECONDS)
        self.gain = pyo.SigTo(dbfs_to_amplitude(ceiling_dbfs), time=0.05)
        self.limiter = pyo.Compress(
            source * self.gain * self.fade,
            thresh=ceiling_dbfs - 1.0,
            ratio=20,
            risetime=0.001,
            falltime=0.15,
            # pyo's default 5 ms look-ahead would delay every note by 5 ms, and a look-ahead
            # under one sample is taken as 25 ms: two samples is the least there is.
            lookahead=2000.0 / sample_rate,
            knee=0.3,
        )
        ceiling = dbfs_to_amplitude(ceiling_dbfs)
        self.clip = pyo.Clip(self.limiter, min=-ceiling, max=ceiling)
        self.output = pyo.Mix(self.clip, voices=channels)
        self.output.out()
        self.ceiling_dbfs = ceiling_dbfs
        self.volume = 1.0

    def set_volume(self, level: float) -> None:
        """Volume as a fraction (0–1) of the ceiling; the ceiling itself never moves."""
        self.volume = min(1.0, max(0.0, level))
        self.gain.value = dbfs_to_amplitude(self.ceiling_dbfs) * self.volume

    def set_ceiling(self, ceiling_dbfs: float) -> None:
        ceiling = dbfs_to_amplitude(ceiling_dbfs)
        self.gain.value = ceiling * self.volume
        self.limiter.thresh = ceiling_dbfs - 1.0
        self.clip.setMin(-ceiling)
        self.clip.setMax(ceiling)
        self.ceiling_dbfs = ceiling_dbfs

    def fade_in(self) -> None:
        self.fade.value = 1.0

    def fade_out(self) -> None:
        self.fade.value = 0.0


@dataclass(frozen=True)
class SlotSound:
    """What one slot of the current sound set plays."""

    instrument: Instrument
    hertz: float
    level: float


class SoundEngine:
    """Turns slot presses and releases into notes; built once after the server has started."""

    def __init__(
        self,
        channels: int,
        sound_set: SoundSet,
        client: ClientProfile,
        *,
        sample_rate: int = 48000,
        polyphony: int = 8,
    ) -> None:
        self.instruments = {name: cls(polyphony) for name, cls in INSTRUMENTS.items()}
        self._mix = pyo.Mix([i.output for i in self.instruments.values()], voices=1)
        self.safety = SafetyChain(
            self._mix, channels, client.client.volume_ceiling_dbfs, sample_rate
        )
        self._slots: list[SlotSound] = []
        # slot → (instrument, voice, the voice's start stamp): a voice stolen by a newer note
        # is not this slot's to release.
        self._sounding: dict[int, tuple[Instrument, Voice, int]] = {}
        self.set_sound_set(sound_set)
        self.safety.fade_in()

    def set_sound_set(self, sound_set: SoundSet) -> None:
        """Switch what each slot plays; notes already sounding ring out through release."""
        section = sound_set.sound_set
        instrument = self.instruments[section.instrument]
        self._slots = [
            SlotSound(
                instrument,
                frequency(
                    midi_note(section.key, section.octave, section.scale, slot.degree, slot.octave)
                ),
                slot.velocity * section.volume,
            )
            for slot in sound_set.slots
        ]
        self.release_all()
        self.sound_set_name = section.name
        log.info("sound set: %s (%s)", section.name, section.instrument)

    def set_client(self, client: ClientProfile) -> None:
        self.safety.set_ceiling(client.client.volume_ceiling_dbfs)

    def set_volume(self, level: float) -> None:
        self.safety.set_volume(level)

    def press(self, slot: int) -> bool:
        """Start the note of `slot` (1-based); False if the sound set has no such slot."""
        if not 0 < slot <= len(self._slots):
            return False
        sound = self._slots[slot - 1]
        voice = sound.instrument.note_on(sound.hertz, sound.level)
        self._sounding[slot] = (sound.instrument, voice, voice.started)
        return True

    def release(self, slot: int) -> None:
        """Let the note of `slot` ring out (unless its voice was taken by a newer note)."""
        entry = self._sounding.pop(slot, None)
        if entry is None:
            return
        instrument, voice, stamp = entry
        if voice.held and voice.started == stamp:
            instrument.note_off(voice)

    def release_all(self) -> None:
        for slot in list(self._sounding):
            self.release(slot)

    def fade_out(self) -> None:
        self.safety.fade_out()
