"""The sound engine: sound set → slot actions → instruments → reverb → safety chain → out."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pyo

from station.config import ClientProfile, ClientSection, SoundSet
from station.config.sound_set import cue_instrument, zone_notes
from station.errors import AudioError, ConfigError
from station.music.theory import chord_notes, frequency, midi_note, parse_note_name
from station.sound.actions import (
    ExpressNote,
    HitDrum,
    MelodyCursor,
    PlayMelody,
    PlayNotes,
    PlaySample,
    PlayZones,
    Rhythm,
    SlotAction,
    ToggleDrone,
    ToggleRhythm,
)
from station.sound.instruments import INSTRUMENTS, DrumKit, Instrument, Sampler

log = logging.getLogger(__name__)

FADE_SECONDS = 0.5
# Every run-time change of a level or a filter glides over this long: short enough to feel
# immediate, long enough that no step in the signal can click.
RAMP_SECONDS = 0.03
# An instrument the sound set does not use rests this long after the switch: longer than the
# longest release (the drone's 2 s) and the reverb's tail.
REST_AFTER_SECONDS = 5.0
# With no brightness cap the low-pass is crossfaded out; this is where it idles.
OPEN_CUTOFF_HZ = 18000.0


def dbfs_to_amplitude(dbfs: float) -> float:
    return float(10.0 ** (dbfs / 20.0))


class SafetyChain:
    """The end of the signal chain, which no sound-set setting can bypass.

    Levels are relative to the client's ceiling: everything before the chain works at full
    scale, a limiter holds it under full scale and a hard clip at ±1 catches the limiter's
    attack; only then is it multiplied by the ceiling (and by the therapist's volume, 0–1). So
    the output cannot exceed the ceiling, and lowering the ceiling turns everything down
    instead of squashing it. Before the limiter sit the client's brightness cap (a low-pass,
    crossfaded in and out) and the start and stop fade.
    """

    def __init__(
        self, source: object, channels: int, client: ClientSection, sample_rate: int
    ) -> None:
        self.fade = pyo.SigTo(0.0, time=FADE_SECONDS)
        self.cap_cutoff = pyo.SigTo(OPEN_CUTOFF_HZ, time=RAMP_SECONDS, init=OPEN_CUTOFF_HZ)
        self.cap_amount = pyo.SigTo(0.0, time=RAMP_SECONDS)
        capped = pyo.ButLP(source, freq=self.cap_cutoff)
        self.tone = pyo.Interp(source, capped, interp=self.cap_amount)
        self.limiter = pyo.Compress(
            self.tone * self.fade,
            thresh=-1.0,
            ratio=20,
            risetime=0.001,
            falltime=0.15,
            # pyo's default 5 ms look-ahead would delay every note by 5 ms, and a look-ahead
            # under one sample is taken as 25 ms: two samples is the least there is.
            lookahead=2000.0 / sample_rate,
            knee=0.3,
        )
        self.clip = pyo.Clip(self.limiter, min=-1.0, max=1.0)
        ceiling = dbfs_to_amplitude(client.volume_ceiling_dbfs)
        self.ceiling = pyo.SigTo(ceiling, time=RAMP_SECONDS, init=ceiling)
        self.volume_control = pyo.SigTo(1.0, time=RAMP_SECONDS, init=1.0)
        self.output = pyo.Mix(self.clip * self.ceiling * self.volume_control, voices=channels)
        self.output.out()
        self.ceiling_dbfs = client.volume_ceiling_dbfs
        self.volume = 1.0
        self.set_client(client)

    def set_volume(self, level: float) -> None:
        """Volume as a fraction (0–1) of the ceiling; the ceiling itself never moves."""
        self.volume = min(1.0, max(0.0, level))
        self.volume_control.value = self.volume

    def set_client(self, client: ClientSection) -> None:
        """The client's ceiling and brightness cap, gliding over RAMP_SECONDS."""
        self.ceiling.value = dbfs_to_amplitude(client.volume_ceiling_dbfs)
        self.ceiling_dbfs = client.volume_ceiling_dbfs
        if client.brightness_cap_hz > 0:
            self.cap_cutoff.value = client.brightness_cap_hz
            self.cap_amount.value = 1.0
        else:
            self.cap_cutoff.value = OPEN_CUTOFF_HZ
            self.cap_amount.value = 0.0

    def fade_in(self) -> None:
        self.fade.value = 1.0

    def fade_out(self) -> None:
        self.fade.value = 0.0


@dataclass(frozen=True)
class CuePhrase:
    """The sound set's cue, ready to play: these pitches one after another on `instrument`,
    each for `note_seconds`, at `level` (before the volume and the client's ceiling)."""

    instrument: Instrument
    hertz: tuple[float, ...]
    note_seconds: float
    level: float

    @property
    def seconds(self) -> float:
        return len(self.hertz) * self.note_seconds


@dataclass
class PreparedSoundSet:
    """A sound set turned into slot actions, ready to swap in."""

    name: str
    actions: list[SlotAction]
    reverb: float
    swell: tuple[float, float]
    instruments: frozenset[str] = frozenset()
    cue: CuePhrase | None = None


class SoundEngine:
    """Turns slot presses and releases into sound; built once after the server has started.

    `sound_sets` are all the sound sets the station may switch to: their samples are loaded
    here, at start, so that a switch never reads a file.
    """

    def __init__(
        self,
        channels: int,
        sound_set: SoundSet,
        client: ClientProfile,
        *,
        sample_rate: int = 48000,
        polyphony: int = 8,
        sound_sets: Iterable[SoundSet] = (),
    ) -> None:
        self.instruments: dict[str, Instrument] = {
            name: cls(polyphony) for name, cls in INSTRUMENTS.items()
        }
        sampler = self.instruments["sampler"]
        drums = self.instruments["drums"]
        assert isinstance(sampler, Sampler) and isinstance(drums, DrumKit)
        self.sampler = sampler
        self.drums = drums
        self._mix = pyo.Mix([i.output for i in self.instruments.values()], voices=1)
        self.reverb_amount = pyo.SigTo(0.0, time=RAMP_SECONDS)
        self.reverb = pyo.Freeverb(self._mix, size=0.75, damp=0.6, bal=self.reverb_amount)
        self.safety = SafetyChain(self.reverb, channels, client.client, sample_rate)
        self._current = PreparedSoundSet("", [], 0.0, (0.0, 1.0))
        # Instrument → when the current sound set stopped using it (monotonic seconds).
        self._unused_since: dict[str, float] = {}
        self.sound_set_name = ""
        self.load_samples([sound_set, *sound_sets])
        self.set_client(client)
        self.set_sound_set(sound_set)
        self.safety.fade_in()

    # -- preparation (never on the press path) ------------------------------------------
    def load_samples(self, sound_sets: Iterable[SoundSet]) -> None:
        """Read every sample the sound sets name; ConfigError listing each unreadable file."""
        problems = []
        for sound_set in sound_sets:
            for name, path in sound_set.samples.items():
                try:
                    self.sampler.load(path)
                except AudioError as error:
                    problems.append(f"sound set {sound_set.sound_set.name!r}: samples.{name}: "
                                    f"{error}")
        if problems:
            raise ConfigError(problems)

    def prepare(self, sound_set: SoundSet) -> PreparedSoundSet:
        """The sound set's slot actions; raises ConfigError if a sample cannot be loaded."""
        self.load_samples([sound_set])
        section = sound_set.sound_set
        melody = None
        if sound_set.melody is not None:
            melody = MelodyCursor(
                tuple(frequency(parse_note_name(note)) for note in sound_set.melody.notes)
            )
        rhythms = {
            config.name: Rhythm(config, self.drums, section.tempo_bpm, section.volume)
            for config in sound_set.rhythms
        }
        actions: list[SlotAction] = []
        used: set[str] = set()
        for slot in sound_set.slots:
            level = slot.velocity * section.volume
            instrument = self.instruments[slot.instrument or section.instrument]
            action: SlotAction
            if slot.action == "note" and slot.sensor == "zones":
                action = PlayZones(instrument, tuple(
                    frequency(note) for note in zone_notes(sound_set, slot)), level)
                used.add(instrument.name)
            elif slot.action == "note" and slot.sensor == "expression":
                note = midi_note(section.key, section.octave, section.scale, slot.degree,
                                 slot.octave)
                action = ExpressNote(instrument, frequency(note), level)
                used.add(instrument.name)
            elif slot.action in ("note", "chord"):
                kind = slot.chord if slot.action == "chord" else "root"
                notes = chord_notes(
                    section.key, section.octave, section.scale, slot.degree, kind, slot.octave
                )
                # A chord's notes share the level so that it is no louder than one note.
                action = PlayNotes(
                    instrument, tuple(frequency(n) for n in notes), level / len(notes) ** 0.5
                )
                used.add(instrument.name)
            elif slot.action == "melody":
                assert melody is not None and sound_set.melody is not None
                name = slot.instrument or sound_set.melody.instrument or section.instrument
                action = PlayMelody(self.instruments[name], melody, level)
                used.add(name)
            elif slot.action == "sample":
                sample = self.sampler.load(sound_set.samples[slot.sample])
                action = PlaySample(self.sampler, sample, level)
                used.add(self.sampler.name)
            elif slot.action == "drum":
                action = HitDrum(self.drums, slot.drum, level)
                used.add(self.drums.name)
            elif slot.action == "drone":
                root = midi_note(
                    section.key, section.octave, section.scale, slot.degree, slot.octave
                )
                action = ToggleDrone(self.instruments["drone"], frequency(root), level)
                used.add("drone")
            else:
                action = ToggleRhythm(rhythms[slot.rhythm])
                used.add(self.drums.name)
            actions.append(action)
        cue_config = sound_set.cue
        cue_on = cue_instrument(sound_set)
        cue = CuePhrase(
            self.instruments[cue_on],
            tuple(frequency(midi_note(section.key, section.octave, section.scale, degree,
                                      cue_config.octave)) for degree in cue_config.degrees),
            cue_config.note_seconds, cue_config.level * section.volume,
        )
        used.add(cue_on)
        swell = (section.swell_seconds, section.swell_start)
        return PreparedSoundSet(section.name, actions, section.reverb, swell, frozenset(used),
                                cue)

    # -- run-time changes ----------------------------------------------------------------
    def set_sound_set(self, sound_set: SoundSet | PreparedSoundSet) -> None:
        """Switch what each slot plays. Sounding notes ring out through their release,
        drones fade and rhythms stop; the new set plays from the next block."""
        prepared = sound_set if isinstance(sound_set, PreparedSoundSet) else self.prepare(
            sound_set)
        for name in prepared.instruments:
            self.instruments[name].wake()
        self.release_all()
        self._current = prepared
        now = time.monotonic()
        self._unused_since = {
            name: self._unused_since.get(name, now)
            for name in self.instruments
            if name not in prepared.instruments
        }
        for instrument in self.instruments.values():
            instrument.swell_shape = prepared.swell
        self.reverb_amount.value = prepared.reverb
        self.sound_set_name = prepared.name
        log.info("sound set: %s", prepared.name)

    def set_client(self, client: ClientProfile) -> None:
        """The client's ceiling, brightness cap and minimum attack, for the notes to come."""
        self.safety.set_client(client.client)
        for instrument in self.instruments.values():
            instrument.set_min_attack(client.client.min_attack_ms / 1000.0)

    def set_volume(self, level: float) -> None:
        self.safety.set_volume(level)

    # -- the press path ------------------------------------------------------------------
    def press(self, slot: int) -> bool:
        """Do what `slot` (1-based) does; False if the sound set has no such slot."""
        actions = self._current.actions
        if not 0 < slot <= len(actions):
            return False
        actions[slot - 1].press()
        return True

    def zone(self, slot: int, zone: int) -> bool:
        """A variable sensor on `slot` entered `zone` (0-based): play that zone's note; False
        if the slot has no zones in this sound set."""
        actions = self._current.actions
        if not 0 < slot <= len(actions):
            return False
        action = actions[slot - 1]
        if not isinstance(action, PlayZones) or not 0 <= zone < len(action.hertz):
            return False
        action.enter(zone)
        return True

    def express(self, slot: int, value: float, glide_seconds: float) -> None:
        """A variable sensor's value (0–1) for the expression note of `slot`, if it has one."""
        actions = self._current.actions
        if 0 < slot <= len(actions):
            action = actions[slot - 1]
            if isinstance(action, ExpressNote):
                action.express(value, glide_seconds)

    def release(self, slot: int) -> None:
        """End the note of `slot` (unless its voice was taken by a newer note)."""
        actions = self._current.actions
        if 0 < slot <= len(actions):
            actions[slot - 1].release()

    def release_all(self) -> None:
        """Release every note, stop drones and rhythms: nothing is left sounding."""
        for action in self._current.actions:
            action.stop()
        for instrument in self.instruments.values():
            instrument.silence()

    def rest_unused(self, now: float | None = None) -> list[str]:
        """Rest the instruments the sound set has not used for REST_AFTER_SECONDS (their notes
        have rung out by then): pyo computes idle voices too. Returns the ones rested now."""
        now = time.monotonic() if now is None else now
        rested = []
        for name, since in self._unused_since.items():
            instrument = self.instruments[name]
            if not instrument.resting and now - since >= REST_AFTER_SECONDS:
                instrument.rest()
                rested.append(name)
        return rested

    @property
    def cue(self) -> CuePhrase | None:
        """The current sound set's cue phrase."""
        return self._current.cue

    def voices_held(self) -> int:
        """How many voices are started and not yet released."""
        return sum(v.held for i in self.instruments.values() for v in i.voices)

    def fade_out(self) -> None:
        self.safety.fade_out()
