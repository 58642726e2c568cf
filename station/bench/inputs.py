"""Per-edge handling time of the inputs: from the pin event to the action handed to the sound
engine and the event log.

Measured on gpiozero's MockFactory: the clock starts just before `MockPin.drive_low()` /
`drive_high()` and stops when that call returns. MockPin runs gpiozero's whole callback chain
in the calling thread, so the time covers the mock pin's edge callback, `time.monotonic()` at the
edge, the switch's lock, the access filter's decision, the hand-off of a deadline to the
scheduler thread, the LED, the engine's real `PressPath` with a real `SoundEngine` on a
pyo manual server (the note's parameters and envelope) and a real `EventRecorder` (its queue
put; its writer thread commits to SQLite in a temporary folder meanwhile, competing for the
GIL as it does on a station). Not included: the kernel's GPIO event and lgpio's callback
thread on a Pi, and the wait for the next audio block (design.md, latency budget).

The runs:

* *reference*: what a bare script would do, measured in the same run and the same way: a
  gpiozero MockPin whose edge callback starts (or releases) one pyo envelope on a sine, paced
  like *notes*. The goal is relative to it, because absolute microseconds do not travel
  between machines (46 µs on one machine of a kind, 81–128 µs on another).
* *notes*: debounce 0, so every edge is a press or a release, one edge every ``--pace-us``
  (default 1 ms: faster than any hand, slow enough that the event writer and the audio keep up,
  as in a session). The goal applies to this run: its p99 at most 1.5 × the reference's.
* *notes_back_to_back*: the same with no pause between edges, a stress test: the event log's
  writer thread is always busy and takes the GIL from the press path (up to Python's switch
  interval, 0.5 ms in the engine), which shows in the tail.
* *inputs_only*: paced like *notes*, with a listener that does nothing: the share of the
  inputs package (pin callback, filter, scheduler hand-off, LED) without sound and log.
* *bounce*: every edge inside a debounce window, swallowed and counted.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

GOAL_P99_OVER_REFERENCE = 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--edges", type=int, default=12000, metavar="N",
        help="edges timed per run (default 12000; at least 10000 for a quotable p99)",
    )
    parser.add_argument(
        "--pace-us", type=float, default=1000.0, metavar="MICROSECONDS",
        help="time from one edge to the next in the paced run (default 1000)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, metavar="PATH",
        help="station file whose start sound set and client are used (default: as `station run`)",
    )


class _NullListener:
    """Hears every decision and does nothing with it."""

    def pressed(self, switch: Any, at: float) -> None:
        pass

    def released(self, switch: Any, at: float, held_seconds: float) -> None:
        pass

    def rejected(self, switch: Any, reason: str, at: float, amount: int = 1) -> None:
        pass


class _BareEnvelope:
    """The reference: one pyo envelope on a sine, started and released by a pin's edge
    callback, with nothing between (no filter, no log, no LED)."""

    def __init__(self, pin: Any) -> None:
        import pyo

        self.envelope = pyo.Adsr(attack=0.005, decay=0.05, sustain=0.5, release=0.1, mul=0.2)
        self.sine = pyo.Sine(freq=440, mul=self.envelope).out()
        self.pin = pin
        pin.function = "input"
        pin.pull = "up"
        pin.edges = "both"
        pin.when_changed = self._changed

    def _changed(self, ticks: int, state: bool) -> None:
        if state:
            self.envelope.stop()
        else:
            self.envelope.play()

    def close(self) -> None:
        self.pin.when_changed = None
        self.sine.stop()


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000.0, 2)

    return {
        "edges": len(ordered),
        "p50_us": at(0.50),
        "p90_us": at(0.90),
        "p99_us": at(0.99),
        "p999_us": at(0.999),
        "max_us": round(ordered[-1] / 1000.0, 2),
        "mean_us": round(sum(ordered) / len(ordered) / 1000.0, 2),
    }


def _time_edges(pin: Any, edges: int, between: Any, pace_ns: int = 0) -> list[int]:
    """Drive `edges` alternating edges on `pin`, one every `pace_ns` (0: back to back),
    and return how long each took to handle, in nanoseconds."""
    import time

    clock = time.perf_counter_ns
    samples = []
    next_edge = clock()
    for index in range(edges):
        if pace_ns:
            # Sleep (releasing the GIL, as an idle engine does) until the next edge is due.
            next_edge += pace_ns
            remaining = next_edge - clock()
            if remaining > 0:
                time.sleep(remaining / 1e9)
        drive = pin.drive_low if index % 2 == 0 else pin.drive_high
        start = clock()
        drive()
        samples.append(clock() - start)
        between(index)
    return samples


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    import gc
    import sys
    import tempfile

    import pyo
    from gpiozero.pins.mock import MockFactory

    from station.cli import default_config
    from station.config import AccessSection, InputConfig, load_station
    from station.engine.build import SWITCH_INTERVAL_SECONDS
    from station.engine.press import PressPath
    from station.inputs.switches import SwitchBoard
    from station.sound.engine import SoundEngine
    from station.telemetry.eventlog import EventReader, EventRecorder

    edges = max(2, arguments.edges)
    loaded = load_station(arguments.config or default_config())
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    server = pyo.Server(audio="manual", nchnls=2, sr=48000, buffersize=64, duplex=0)
    server.deactivateMidi()
    server.boot()
    server.start()
    factory = MockFactory()
    results: dict[str, Any] = {"goal_p99_over_reference": GOAL_P99_OVER_REFERENCE}
    try:
        with tempfile.TemporaryDirectory(prefix="station-bench-") as folder:
            recorder = EventRecorder(Path(folder))
            recorder.start_session(loaded.config.station.client,
                                   loaded.config.station.sound_set, detail={})
            press_path = PressPath(SoundEngine(2, loaded.sound_set, loaded.client), recorder)
            item = InputConfig(name="bench", pin=17, led_pin=5, slot=1)

            def keep_audio_running(index: int) -> None:
                # One audio block per edge pair, outside the timing: voices move through
                # their envelopes as they would in real time.
                if index % 2:
                    server.process()

            pace_ns = int(arguments.pace_us * 1000)
            reference_pin = factory.pin(18)
            bare = _BareEnvelope(reference_pin)
            _time_edges(reference_pin, 1000, keep_audio_running)  # warm-up
            gc.collect()
            results["reference"] = _percentiles(
                _time_edges(reference_pin, edges + (edges % 2), keep_audio_running, pace_ns))
            bare.close()
            factory.reset()
            runs = (
                ("notes", 0.0, pace_ns, press_path),
                ("notes_back_to_back", 0.0, 0, press_path),
                ("inputs_only", 0.0, pace_ns, _NullListener()),
                ("bounce", 1e3, 0, press_path),
            )
            for name, debounce_ms, pace, listener in runs:
                board = SwitchBoard([item], AccessSection(debounce_ms=debounce_ms), listener,
                                    factory, simulate=False)
                pin = factory.pin(17)
                if name == "bounce":
                    pin.drive_low()  # opens the window that swallows every timed edge
                    pin.drive_high()
                _time_edges(pin, 1000, keep_audio_running)  # warm-up
                gc.collect()
                samples = _time_edges(pin, edges + (edges % 2), keep_audio_running, pace)
                board.close()
                factory.reset()
                results[name] = _percentiles(samples)
            recorder.close()
            reader = EventReader(Path(folder))
            recorded = len(reader.after(0, limit=10 * edges))
            reader.close()
        results["events_recorded"] = recorded
        ratio = results["notes"]["p99_us"] / max(results["reference"]["p99_us"], 0.01)
        results["notes"]["p99_over_reference_p99"] = round(ratio, 2)
        results["goal_met"] = ratio <= GOAL_P99_OVER_REFERENCE
        results["pace_us"] = arguments.pace_us
        results["measured"] = (
            "MockPin.drive_low/high() call to its return: pin callback, access filter, "
            "scheduler hand-off, LED, PressPath.pressed/released → SoundEngine (pyo manual server) "
            "and EventRecorder.record (SQLite writer thread running); the reference: the same "
            "call with only a pin callback that starts or releases one pyo envelope"
        )
    finally:
        server.stop()
        server.shutdown()
    return results
