"""Rendering the sound engine on pyo's manual server, and measuring what comes out."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from station.config import ClientProfile, Problem, SoundSet
from station.config.sound_set import check_sound_set

BLOCK = 64
RATE = 48000
# Long enough for the longest release (the drone's 2 s) and the reverb's tail.
RING_OUT_SECONDS = 4.0


class Capture:
    """Renders the engine's final output block by block and keeps every sample."""

    def __init__(self, server: Any, engine: Any) -> None:
        import pyo

        self.server = server
        self.samples: list[float] = []
        self._table = pyo.DataTable(BLOCK, chnls=1)
        # TableRec restarts each block: record one block, copy it out, repeat.
        self._recorder = pyo.TableRec(engine.safety.output[0], self._table)

    def blocks(self, count: int) -> None:
        for _ in range(count):
            self._recorder.play()
            self.server.process()
            self.samples.extend(self._table.getTable())

    def seconds(self, seconds: float) -> None:
        self.blocks(math.ceil(seconds * RATE / BLOCK))

    @property
    def now(self) -> int:
        """The index of the next sample to be rendered."""
        return len(self.samples)

    def first_sound(self, start: int = 0, threshold: float = 1e-4) -> int | None:
        return next(
            (start + i for i, s in enumerate(self.samples[start:]) if abs(s) > threshold), None
        )

    def peak(self, start: int = 0, end: int | None = None) -> float:
        return max((abs(s) for s in self.samples[start:end]), default=0.0)

    def array(self, start: int = 0, end: int | None = None) -> np.ndarray:
        return np.asarray(self.samples[start:end], dtype=np.float64)

    def largest_step(self, start: int = 0, end: int | None = None) -> float:
        """The largest sample-to-sample jump: a click shows up as one much larger than the
        music's own."""
        return float(np.max(np.abs(np.diff(self.array(start, end)))))


def measured_pitch(samples: np.ndarray, rate: int = RATE) -> float:
    """Frequency in Hz of a (near) pure tone from its rising zero crossings, each located
    between two samples by linear interpolation."""
    before, after = samples[:-1], samples[1:]
    rising = np.nonzero((before < 0) & (after >= 0))[0]
    assert len(rising) > 10, "too few cycles to measure a pitch"
    crossings = rising + before[rising] / (before[rising] - after[rising])
    return float((len(crossings) - 1) * rate / (crossings[-1] - crossings[0]))


def hits(samples: np.ndarray, threshold: float = 1e-3, quiet: int = 2400) -> list[int]:
    """Where each sound starts: the first loud sample after at least `quiet` quiet ones."""
    found: list[int] = []
    last = -quiet - 1
    for index in np.nonzero(np.abs(samples) > threshold)[0]:
        if index - last > quiet:
            found.append(int(index))
        last = index
    return found


def cents(measured: float, expected: float) -> float:
    return 1200.0 * math.log2(measured / expected)


def spectrum_peaks(samples: np.ndarray, count: int, rate: int = RATE) -> list[float]:
    """The frequencies (Hz) of the `count` strongest spectral peaks, lowest first."""
    windowed = samples * np.hanning(len(samples))
    magnitude = np.abs(np.fft.rfft(windowed, n=len(samples) * 4))
    hertz = np.fft.rfftfreq(len(samples) * 4, 1.0 / rate)
    is_peak = (magnitude[1:-1] > magnitude[:-2]) & (magnitude[1:-1] > magnitude[2:])
    indexes = np.nonzero(is_peak)[0] + 1
    strongest = indexes[np.argsort(magnitude[indexes])[-count:]]
    return sorted(float(hertz[i]) for i in strongest)


def sound_set(folder: Path, text: str) -> SoundSet:
    """A sound set from TOML text, checked as the station checks files (samples resolved
    relative to `folder`)."""
    path = folder / "test-set.toml"
    path.write_text(text)
    problems: list[Problem] = []
    loaded = check_sound_set(path, tomllib.loads(text), problems)
    assert loaded is not None, problems
    return loaded


def client(**settings: Any) -> ClientProfile:
    return ClientProfile.model_validate({"client": {"pseudonym": "C-TEST", **settings}})
