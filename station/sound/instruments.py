"""Instruments: each owns a pyo graph with fixed pools of voices, built once at start.

Playing a note sets a voice's frequency and level and triggers its envelopes; nothing is created
on the press path. When every voice of a pool is busy, the one released longest ago is reused,
else the oldest held one.

Levels are relative to the client's ceiling: a voice at level 1 peaks near full scale before
the safety chain scales everything to the ceiling (station/sound/engine.py).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pyo

from station.errors import AudioError
from station.music.catalog import DRUM_PIECES, INSTRUMENT_NAMES

# (seconds, starting fraction of the level) of a held note's swell; 0 seconds = no swell.
SwellShape = tuple[float, float]
NO_SWELL: SwellShape = (0.0, 1.0)


class Voice:
    """One monophonic voice: a frequency control, envelopes, a swell and the sound they shape.

    The first envelope sets the level; the others (brightness, pitch sweep) are triggered with
    it. `swell` multiplies the level (and, in some instruments, the brightness): it holds 1
    unless the sound set asks held notes to swell.
    """

    def __init__(
        self,
        frequency: Any,
        envelopes: tuple[Any, ...],
        swell: Any,
        output: Any,
        workers: tuple[Any, ...] = (),
    ) -> None:
        self.frequency = frequency
        self.envelopes = envelopes
        self.swell = swell
        self.output = output
        # The oscillators and filters, the costly part: stopped while the instrument rests.
        # (Envelopes and controls stay running: playing an envelope would start a note.)
        self.workers = workers
        # The attack each envelope was designed with; the client's minimum may lengthen it.
        self.design_attacks = tuple(float(envelope.attack) for envelope in envelopes)
        self.held = False
        self.swell_shape: SwellShape | None = NO_SWELL
        # Where a sensor's expression last left the swell (Voice.express).
        self._expression = 1.0
        # Order stamps for voice stealing (larger = more recent).
        self.started = 0
        self.released = 0
        # The press path calls pyo's C objects directly: the Python wrappers check and expand
        # every argument on every call, about 5 µs per envelope started, most of a note's cost.
        # Each of these objects has exactly one stream, and the server does not auto-start
        # children, so the wrapper would do nothing more than these calls.
        for control in (frequency, swell, *envelopes):
            if len(control._base_objs) != 1:
                raise AudioError("a voice's frequency, swell and envelopes must be single-stream")
        self._set_hertz = frequency._base_objs[0].setValue
        self._set_level = envelopes[0]._base_objs[0].setMul
        self._start_envelopes = tuple(
            control._base_objs[0].play for control in (swell, *envelopes)
        )
        self._stop_envelopes = tuple(envelope._base_objs[0].stop for envelope in envelopes)

    def start(
        self, hertz: float, level: float, stamp: int, swell_shape: SwellShape = NO_SWELL
    ) -> None:
        if swell_shape != self.swell_shape:
            self._expression = 1.0
            # Reshaped only as the voice starts: changing a sounding swell would jump its level.
            seconds, start = swell_shape
            if seconds > 0:
                self.swell.replace([(0.0, start), (seconds, 1.0)])
            else:
                self.swell.replace([(0.0, 1.0), (0.001, 1.0)])
            self.swell_shape = swell_shape
        self._set_hertz(hertz)
        self._set_level(level)
        for start_envelope in self._start_envelopes:
            start_envelope(0, 0)
        self.held = True
        self.started = stamp

    def express(self, fraction: float, glide_seconds: float) -> None:
        """Glide the swell (level, and brightness where the instrument ties it to the swell)
        to `fraction` over `glide_seconds`: a sensor's expression on a sounding note."""
        start = self._expression if glide_seconds > 0 else fraction
        self.swell.replace([(0.0, start), (max(glide_seconds, 0.001), fraction)])
        self.swell.play()
        self._expression = fraction
        # The next ordinary note reshapes the swell to the sound set's.
        self.swell_shape = None

    def stop(self, stamp: int) -> None:
        for stop_envelope in self._stop_envelopes:
            stop_envelope(0)
        self.held = False
        self.released = stamp

    def set_min_attack(self, seconds: float) -> None:
        for envelope, designed in zip(self.envelopes, self.design_attacks, strict=True):
            envelope.attack = max(designed, seconds)


def new_swell() -> Any:
    """A level multiplier that holds 1 until the sound set asks for a swell."""
    return pyo.Linseg([(0.0, 1.0), (0.001, 1.0)], initToFirstVal=True)


class VoicePool:
    """A fixed set of voices with stealing: released voices first (longest released), then the
    oldest held one. Thread-safe: a rhythm pattern plays from pyo's audio thread while a
    switch plays from the GPIO thread."""

    def __init__(self, build_voice: Callable[[], Voice], size: int) -> None:
        if size < 1:
            raise AudioError(f"polyphony {size}: an instrument needs at least one voice")
        self._clock = itertools.count(1)
        self._lock = threading.Lock()
        self.voices = [build_voice() for _ in range(size)]

    def _free_voice(self) -> Voice:
        released = [voice for voice in self.voices if not voice.held]
        if released:
            return min(released, key=lambda voice: voice.released)
        return min(self.voices, key=lambda voice: voice.started)

    def take(self, start: Callable[[Voice, int], None]) -> Voice:
        """A free (or stolen) voice, started by `start(voice, stamp)` under the pool's lock."""
        with self._lock:
            voice = self._free_voice()
            start(voice, next(self._clock))
        return voice

    def note_on(self, hertz: float, level: float, swell_shape: SwellShape = NO_SWELL) -> Voice:
        return self.take(lambda voice, stamp: voice.start(hertz, level, stamp, swell_shape))

    def note_off(self, voice: Voice) -> None:
        with self._lock:
            voice.stop(next(self._clock))

    def let_ring(self, voice: Voice) -> None:
        """Count `voice` as released without stopping its envelopes: for sounds that decay
        by themselves (a drum), which a release would cut short."""
        with self._lock:
            voice.held = False
            voice.released = next(self._clock)

    def silence(self) -> None:
        for voice in self.voices:
            if voice.held:
                self.note_off(voice)


class Instrument:
    """Base class: one or more voice pools mixed to one mono `output`.

    Subclasses build one voice in `_build_voice`; instruments with several kinds of voice
    (the drum kit) build their pools themselves.
    """

    name: ClassVar[str]

    def __init__(self, polyphony: int = 8) -> None:
        # Set by the sound set: how held notes swell (station.config.SoundSetSection).
        self.swell_shape: SwellShape = NO_SWELL
        self.resting = False
        self.pools = self._build_pools(polyphony)
        self.output = pyo.Mix([v.output for p in self.pools for v in p.voices], voices=1)

    def _build_pools(self, polyphony: int) -> list[VoicePool]:
        return [VoicePool(self._build_voice, polyphony)]

    def _build_voice(self) -> Voice:
        raise NotImplementedError

    @property
    def voices(self) -> list[Voice]:
        return [voice for pool in self.pools for voice in pool.voices]

    def note_on(self, hertz: float, level: float) -> Voice:
        """Sound `hertz` at `level` (0–1, linear) on a free or stolen voice."""
        return self.pools[0].note_on(hertz, level, self.swell_shape)

    def note_off(self, voice: Voice) -> None:
        """Let `voice` ring out through its release."""
        for pool in self.pools:
            if voice in pool.voices:
                pool.note_off(voice)

    def silence(self) -> None:
        """Release every voice (a sound-set change or shutdown)."""
        for pool in self.pools:
            pool.silence()

    def rest(self) -> None:
        """Stop computing the voices' oscillators and filters (they output silence): for an
        instrument the current sound set does not use, once its notes have rung out."""
        for voice in self.voices:
            for worker in voice.workers:
                worker.stop()
        self.resting = True

    def wake(self) -> None:
        """Compute the voices again; a note started in the same block sounds at once."""
        if self.resting:
            for voice in self.voices:
                for worker in voice.workers:
                    worker.play()
            self.resting = False

    def set_min_attack(self, seconds: float) -> None:
        """No envelope of this instrument reaches its level faster than `seconds`."""
        for voice in self.voices:
            voice.set_min_attack(seconds)



class Bell(Instrument):
    """A soft FM bell: bright at the strike, mellowing as it decays."""

    name = "bell"

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(440.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.005, decay=1.8, sustain=0.0, release=0.7, dur=0, mul=0.0)
        brightness = pyo.Adsr(attack=0.002, decay=0.6, sustain=0.15, release=0.5, dur=0)
        output = pyo.FM(
            carrier=frequency, ratio=1.4, index=brightness * 2.5 * swell + 0.3,
            mul=envelope * swell,
        )
        return Voice(frequency, (envelope, brightness), swell, output, (output,))


class Pad(Instrument):
    """A warm pad: two slightly detuned soft saws through a low-pass, slow in and out."""

    name = "pad"

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(220.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.35, decay=0.5, sustain=0.8, release=1.2, dur=0, mul=0.0)
        low = pyo.RCOsc(freq=frequency * 0.997, sharp=0.35, mul=0.5)
        high = pyo.RCOsc(freq=frequency * 1.003, sharp=0.35, mul=0.5)
        output = pyo.ButLP(
            low + high, freq=frequency * (2.0 + 3.0 * swell), mul=envelope * swell
        )
        return Voice(frequency, (envelope,), swell, output, (low, high, output))


class Pluck(Instrument):
    """A plucked string: a bright, quickly filtered saw with a fast decay."""

    name = "pluck"

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(220.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.003, decay=0.9, sustain=0.0, release=0.25, dur=0, mul=0.0)
        tone = pyo.RCOsc(freq=frequency, sharp=0.7)
        output = pyo.ButLP(tone, freq=frequency * (2.0 + 3.0 * swell), mul=envelope * swell)
        return Voice(frequency, (envelope,), swell, output, (tone, output))


class Mallet(Instrument):
    """A mallet (marimba, kalimba): a round fundamental and a short, inharmonic knock."""

    name = "mallet"
    # A marimba bar's first overtone sits near four times the fundamental, tuned slightly flat.
    OVERTONE_RATIO = 3.93

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(440.0)
        swell = new_swell()
        body = pyo.Adsr(attack=0.004, decay=0.9, sustain=0.0, release=0.3, dur=0, mul=0.0)
        knock = pyo.Adsr(attack=0.002, decay=0.08, sustain=0.0, release=0.05, dur=0, mul=0.25)
        fundamental = pyo.Sine(freq=frequency, mul=body * swell)
        overtone = pyo.Sine(freq=frequency * self.OVERTONE_RATIO, mul=knock * body * swell)
        output = fundamental + overtone
        return Voice(frequency, (body, knock), swell, output, (fundamental, overtone))


class SineTone(Instrument):
    """A pure sine: the gentlest sound there is, for the most sound-sensitive clients (and the
    one whose pitch tests can measure exactly)."""

    name = "sine"

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(440.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.01, decay=0.3, sustain=0.7, release=0.4, dur=0, mul=0.0)
        output = pyo.Sine(freq=frequency, mul=envelope * swell)
        return Voice(frequency, (envelope,), swell, output, (output,))


class Drone(Instrument):
    """A drone: a soft, slowly beating tone that fades in over seconds and holds."""

    name = "drone"
    # The partials a slight self-modulation gives a sine (about what pyo's SineLoop makes at
    # feedback 0.06), as a wavetable. SineLoop with feedback crashed pyo 1.1.0 (a segmentation
    # fault inside its audio loop) after seconds to minutes of held drones, found holding
    # drones in the latency benchmark; a wavetable oscillator ran the same frequencies for
    # 400,000 blocks without one.
    PARTIALS = (1.0, 0.19, 0.05, 0.01)

    def __init__(self, polyphony: int = 8) -> None:
        self._wave = pyo.HarmTable(list(self.PARTIALS))
        super().__init__(polyphony)

    def _build_voice(self) -> Voice:
        frequency = pyo.Sig(110.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=1.5, decay=0.1, sustain=1.0, release=2.0, dur=0, mul=0.0)
        # The 0.2 Hz detune beats gently. Two objects rather than one fed a list of
        # frequencies, as in the pad.
        root = pyo.Osc(self._wave, freq=frequency, mul=0.5)
        beating = pyo.Osc(self._wave, freq=frequency + 0.2, mul=0.5)
        output = pyo.ButLP(root + beating, freq=1200, mul=envelope * swell)
        return Voice(frequency, (envelope,), swell, output, (root, beating, output))


class DrumKit(Instrument):
    """A synthesized kit: kick (falling sine), snare (noise and tone), hat (high noise) and
    shaker (band of noise, softer onset), each with its own small voice pool."""

    name = "drums"

    def _build_pools(self, polyphony: int) -> list[VoicePool]:
        per_piece = max(1, polyphony // 2)
        builders = {
            "kick": self._kick, "snare": self._snare, "hat": self._hat, "shaker": self._shaker,
        }
        self.piece_pools = {
            piece: VoicePool(builders[piece], per_piece) for piece in DRUM_PIECES
        }
        return list(self.piece_pools.values())

    def hit(self, piece: str, level: float) -> Voice:
        """Strike `piece` (one of DRUM_PIECES) at `level` (0–1); it decays by itself."""
        pool = self.piece_pools[piece]
        voice = pool.note_on(0.0, level)
        pool.let_ring(voice)
        return voice

    def note_on(self, hertz: float, level: float) -> Voice:
        return self.hit("kick", level)

    @staticmethod
    def _kick() -> Voice:
        unused_frequency = pyo.Sig(0.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.002, decay=0.35, sustain=0.0, release=0.1, dur=0, mul=0.0)
        sweep = pyo.Adsr(attack=0.001, decay=0.06, sustain=0.0, release=0.05, dur=0)
        output = pyo.Sine(freq=48 + 110 * sweep, mul=envelope * swell)
        return Voice(unused_frequency, (envelope, sweep), swell, output, (output,))

    @staticmethod
    def _snare() -> Voice:
        unused_frequency = pyo.Sig(0.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.002, decay=0.18, sustain=0.0, release=0.08, dur=0, mul=0.0)
        source = pyo.Noise()
        noise = pyo.ButBP(source, freq=2500, q=0.8, mul=0.8)
        tone = pyo.Sine(freq=185, mul=0.5)
        output = pyo.Mix([noise, tone], voices=1, mul=envelope * swell)
        return Voice(unused_frequency, (envelope,), swell, output, (source, noise, tone))

    @staticmethod
    def _hat() -> Voice:
        unused_frequency = pyo.Sig(0.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.001, decay=0.05, sustain=0.0, release=0.03, dur=0, mul=0.0)
        source = pyo.Noise()
        output = pyo.ButHP(source, freq=7000, mul=envelope * swell * 0.6)
        return Voice(unused_frequency, (envelope,), swell, output, (source, output))

    @staticmethod
    def _shaker() -> Voice:
        unused_frequency = pyo.Sig(0.0)
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.02, decay=0.09, sustain=0.0, release=0.05, dur=0, mul=0.0)
        source = pyo.Noise()
        output = pyo.ButBP(source, freq=5000, q=1.5, mul=envelope * swell * 0.7)
        return Voice(unused_frequency, (envelope,), swell, output, (source, output))


class SampleVoice(Voice):
    """A voice that plays a loaded sound file once, from its start."""

    def __init__(self, reader: Any, envelope: Any, swell: Any, output: Any) -> None:
        super().__init__(pyo.Sig(0.0), (envelope,), swell, output)
        self.reader = reader

    def play_sample(
        self, sample: LoadedSample, level: float, stamp: int, swell_shape: SwellShape
    ) -> None:
        self.reader.setTable(sample.table)
        self.reader.freq = sample.rate
        self.reader.play()
        self.start(0.0, level, stamp, swell_shape)


class LoadedSample:
    """A sound file in memory, mixed down to one channel (the engine's mix is mono before the
    safety chain), with the rate that plays it at its pitch."""

    def __init__(self, path: Path) -> None:
        info = pyo.sndinfo(str(path))
        # pyo prints "failed to open" and returns None instead of raising.
        if info is None:
            raise AudioError(
                f"sample {path}: cannot be read as a sound file (WAV, FLAC, OGG or AIFF)"
            )
        self.path = path
        channels = int(info[3])
        self.table = pyo.SndTable(str(path), chnl=0)
        if channels > 1:
            # The average of every channel, mixed in pyo's C code: a therapist's stereo
            # recording may have its instrument on one side only.
            for channel in range(1, channels):
                self.table.add(pyo.SndTable(str(path), chnl=channel))
            self.table.mul(1.0 / channels)
        self.channels = channels
        self.rate = float(self.table.getRate())
        self.seconds = float(info[1])
        # (modification time, size) of the file when it was read.
        self.version: tuple[int, int] = (0, 0)


class Sampler(Instrument):
    """Plays the therapist's own sound files, loaded into memory before anyone presses."""

    name = "sampler"

    def __init__(self, polyphony: int = 8) -> None:
        # TableRead needs a table to exist; a short silent one stands in until a sample plays.
        self._silence = pyo.DataTable(size=64)
        self.samples: dict[str, LoadedSample] = {}
        super().__init__(polyphony)

    def _build_voice(self) -> Voice:
        swell = new_swell()
        envelope = pyo.Adsr(attack=0.005, decay=0.0, sustain=1.0, release=0.08, dur=0, mul=0.0)
        reader = pyo.TableRead(self._silence, freq=self._silence.getRate(), loop=0)
        reader.stop()
        output = reader * envelope * swell
        return SampleVoice(reader, envelope, swell, output)

    def load(self, path: str | Path) -> LoadedSample:
        """The sample at `path`, read from disk when first asked for or when the file has
        changed since (a reload picks up a new recording); never on the press path."""
        file = Path(path).resolve()
        key = str(file)
        try:
            stat = file.stat()
        except OSError as error:
            raise AudioError(f"sample {file}: cannot be read: {error.strerror}") from error
        version = (stat.st_mtime_ns, stat.st_size)
        loaded = self.samples.get(key)
        if loaded is None or loaded.version != version:
            loaded = LoadedSample(file)
            loaded.version = version
            self.samples[key] = loaded
        return loaded

    def play(self, sample: LoadedSample, level: float) -> Voice:
        def start(voice: Voice, stamp: int) -> None:
            assert isinstance(voice, SampleVoice)
            voice.play_sample(sample, level, stamp, self.swell_shape)

        return self.pools[0].take(start)


INSTRUMENTS: dict[str, type[Instrument]] = {
    cls.name: cls for cls in (Bell, Pad, Pluck, Mallet, SineTone, Drone, DrumKit, Sampler)
}
assert tuple(INSTRUMENTS) == INSTRUMENT_NAMES, "keep station.music.catalog in step"
