"""Polyphony: how many voices of the richest instrument one core renders in half its time.

Every instrument's voice pool is built at increasing sizes on pyo's manual server (48 kHz,
64-frame blocks, no sound card) with every voice sounding, and the CPU time per block is
measured. The richest instrument is the one whose voice costs the most; its voice count at
50 % of one core is the result. CPU time, not wall time, so other processes on the machine
disturb the numbers less (they still share caches and memory bandwidth).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import station.sound  # noqa: F401  (sets pyo's environment before pyo is imported)

RATE = 48000
BLOCK = 64
BUDGET = 0.5  # of one core


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--blocks", type=int, default=1500,
                        help="blocks rendered per measurement (default 1500, 2 s of audio)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128],
                        help="voice pool sizes to measure (default 16 32 64 128)")


def _cpu_per_block(server: Any, blocks: int) -> float:
    for _ in range(50):  # settle caches and envelopes first
        server.process()
    started = time.process_time()
    for _ in range(blocks):
        server.process()
    return (time.process_time() - started) / blocks


def measure(name: str, voices: int, blocks: int) -> float:
    """CPU seconds per block that `voices` sounding voices of instrument `name` add.

    Run in a process of its own (see `_measure_apart`): each measurement starts from an
    empty server, and a crash in pyo fails that measurement with a clear error.
    """
    import pyo

    from station.sound.instruments import INSTRUMENTS

    server = pyo.Server(audio="manual", sr=RATE, buffersize=BLOCK, nchnls=2, duplex=0)
    server.deactivateMidi()
    server.boot()
    server.start()
    baseline = _cpu_per_block(server, blocks)
    instrument = INSTRUMENTS[name](voices)
    instrument.output.out()
    for index in range(voices):
        instrument.note_on(110.0 * 2 ** (index / 12 % 4), 1.0 / voices)
    cost = _cpu_per_block(server, blocks) - baseline
    server.stop()
    return cost


def measure_idle_engine(blocks: int, rested: bool) -> float:
    """CPU seconds per block of the whole sound engine (every instrument's pool, reverb,
    safety chain) with the shipped sound sets loaded and nothing playing: what the station
    costs before anyone presses, since pyo computes idle voices too. `rested`: after the
    instruments the start sound set does not use have been rested."""
    import pyo

    from station.config import load_station
    from station.sound.engine import SoundEngine

    shipped = load_station(Path(__file__).resolve().parent.parent.parent / "config" /
                           "station.toml")
    server = pyo.Server(audio="manual", sr=RATE, buffersize=BLOCK, nchnls=2, duplex=0)
    server.deactivateMidi()
    server.boot()
    server.start()
    baseline = _cpu_per_block(server, blocks)
    engine = SoundEngine(2, shipped.sound_set, shipped.client,
                         sound_sets=shipped.sound_sets.values())
    if rested:
        engine.rest_unused(now=time.monotonic() + 3600)
    cost = _cpu_per_block(server, blocks) - baseline
    del engine
    server.stop()
    return cost


def _measure_apart(call: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c",
         f"import sys; from station.bench.polyphony import *; print({call}, file=sys.stderr)"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    return float(result.stderr.strip().splitlines()[-1])


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from station.music.catalog import MELODIC_INSTRUMENTS

    period = BLOCK / RATE
    per_instrument: dict[str, dict[str, Any]] = {}
    # The pitched instruments and the drone are the ones a pool of many voices is for; the
    # sampler's cost depends on the file and the drum kit is four small pools.
    for name in (*MELODIC_INSTRUMENTS, "drone"):
        points = [
            (size, _measure_apart(f"measure({name!r}, {size}, {arguments.blocks})"))
            for size in arguments.sizes
        ]
        # Least-squares slope through the origin: CPU seconds per voice per block.
        slope = sum(s * c for s, c in points) / sum(s * s for s, _ in points)
        per_instrument[name] = {
            "cpu_per_voice_percent_of_core": round(100 * slope / period, 3),
            "measured": [
                {"voices": s, "cpu_percent_of_core": round(100 * c / period, 2)}
                for s, c in points
            ],
        }
    richest = max(per_instrument, key=lambda n: per_instrument[n][
        "cpu_per_voice_percent_of_core"])
    per_voice = per_instrument[richest]["cpu_per_voice_percent_of_core"]
    awake = _measure_apart(f"measure_idle_engine({arguments.blocks}, rested=False)")
    rested = _measure_apart(f"measure_idle_engine({arguments.blocks}, rested=True)")
    return {
        "sample_rate": RATE,
        "block_frames": BLOCK,
        "budget_percent_of_core": 100 * BUDGET,
        "richest_instrument": richest,
        "cpu_per_voice_percent_of_core": per_voice,
        "voices_within_budget": int(100 * BUDGET / per_voice),
        "goal_voices": 64,
        "idle_engine_percent_of_core": {
            "every_instrument_awake": round(100 * awake / period, 2),
            "unused_instruments_rested": round(100 * rested / period, 2),
        },
        "instruments": per_instrument,
        "caveat": "CPU time of one process on a 2-core machine shared with other work",
    }
