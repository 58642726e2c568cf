#!/usr/bin/env python3
"""Synthesize the soundscape sound set's samples (config/sound-sets/samples/*.wav).

The station ships these small files instead of recordings so that every sound in it is free
to copy. Pure Python and seeded, so the files come out the same on every run:

    python3 scripts/make-soundscape-samples.py [FOLDER]
"""

from __future__ import annotations

import math
import random
import struct
import sys
import wave
from collections.abc import Callable
from pathlib import Path

RATE = 16000


def write(path: Path, samples: list[float]) -> None:
    peak = max(abs(s) for s in samples) or 1.0
    frames = b"".join(struct.pack("<h", round(24000 * s / peak)) for s in samples)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(frames)


def fade(samples: list[float], seconds: float = 0.01) -> list[float]:
    """Short fades at both ends, so that no sample starts or stops with a click."""
    length = int(seconds * RATE)
    for i in range(min(length, len(samples))):
        samples[i] *= i / length
        samples[-1 - i] *= i / length
    return samples


def water_drop() -> list[float]:
    """A drop: a sine gliding up an octave as it dies away."""
    phase, out = 0.0, []
    for n in range(int(0.35 * RATE)):
        t = n / RATE
        phase += 2 * math.pi * (700 + 900 * (1 - math.exp(-t / 0.03))) / RATE
        out.append(math.sin(phase) * math.exp(-t / 0.07))
    return fade(out, 0.003)


def bird() -> list[float]:
    """Three chirps: fast upward sweeps with a little vibrato."""
    out = [0.0] * int(0.7 * RATE)
    for start in (0.0, 0.22, 0.42):
        phase = 0.0
        for n in range(int(0.12 * RATE)):
            t = n / RATE
            hertz = 2600 + 9000 * t + 120 * math.sin(2 * math.pi * 45 * t)
            phase += 2 * math.pi * hertz / RATE
            out[int(start * RATE) + n] += math.sin(phase) * math.sin(math.pi * t / 0.12) ** 2
    return fade(out)


def ocean_wave() -> list[float]:
    """A wave on the shore: noise through a one-pole low-pass, swelling and ebbing."""
    noise = random.Random(7)
    seconds = 2.0
    low, out = 0.0, []
    for n in range(int(seconds * RATE)):
        t = n / RATE
        swell = math.sin(math.pi * t / seconds) ** 2
        cutoff = 0.04 + 0.12 * swell  # opens as the wave breaks
        low += cutoff * (noise.uniform(-1, 1) - low)
        out.append(low * swell)
    return fade(out)


def wind_chime() -> list[float]:
    """A chime: a few inharmonic partials, each dying away at its own pace."""
    partials = ((1318.5, 1.0, 1.2), (1760.0, 0.6, 0.9), (2349.3, 0.4, 0.7), (3520.0, 0.2, 0.4))
    out = []
    for n in range(int(1.5 * RATE)):
        t = n / RATE
        out.append(sum(a * math.sin(2 * math.pi * f * t) * math.exp(-t / d)
                       for f, a, d in partials))
    return fade(out, 0.004)


SAMPLES: dict[str, Callable[[], list[float]]] = {
    "water-drop": water_drop,
    "bird": bird,
    "ocean-wave": ocean_wave,
    "wind-chime": wind_chime,
}


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(__file__).resolve().parent.parent / "config" / "sound-sets" / "samples")
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in SAMPLES.items():
        write(folder / f"{name}.wav", make())
        print(folder / f"{name}.wav")


if __name__ == "__main__":
    main()
