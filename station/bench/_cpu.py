"""Which process was running when an xrun fell, for `station bench latency`.

A watcher in a process of its own (`python -m station.bench._cpu FILE NAME=PID ...`: in the
benchmark's process its GIL would delay the benchmark's own JACK listener) reads, every
`SAMPLE_SECONDS`, how long each watched process's threads have run (the first field of
``/proc/PID/task/TID/schedstat``, nanoseconds, summed over its threads) and writes one line
per sample to FILE: the CLOCK_MONOTONIC time and each process's total. The benchmark notes the
monotonic time of each xrun; `attribute` then names, for each xrun, the process that ran the
most in the window just before it (``idle`` when none of them ran for more than a tenth of
that window: the machine's other work, or nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

SAMPLE_SECONDS = 0.005
# How far back from an xrun the CPU time is compared: a late audio block is a period or two
# (1.3–2.7 ms) late, and the sample before that moment is at most SAMPLE_SECONDS older.
WINDOW_SECONDS = 0.010


def run_nanoseconds(pid: int, with_children: bool = False) -> int:
    """How long all threads of `pid` (`with_children`: and of its children, for the measured
    program: a peer's glue starts the synth) have run on a CPU, ns (0 once it is gone)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        folder = f"/proc/{pid}/task/{task}"
        try:
            total += int(Path(f"{folder}/schedstat").read_text().split()[0])
            children = Path(f"{folder}/children").read_text().split() if with_children else []
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
        total += sum(run_nanoseconds(int(child), True) for child in children)
    return total


def watch(output: Path, processes: Mapping[str, int]) -> None:
    """Write samples to `output` until stdin closes (the benchmark's signal to stop)."""
    import select

    names = list(processes)
    with output.open("w") as samples:
        print(" ".join(names), file=samples)
        while not select.select([sys.stdin], [], [], SAMPLE_SECONDS)[0]:
            now = time.monotonic_ns()
            print(now, *(run_nanoseconds(processes[name], name == "program") for name in names),
                  file=samples)


class CpuWatch:
    """The watcher process; `stop` returns its samples."""

    def __init__(self, output: Path, processes: Mapping[str, int]) -> None:
        self.output = output
        self.processes = dict(processes)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, program: int) -> None:
        """Start watching, with the measured program (pid `program`) as ``program``."""
        arguments = [f"{name}={pid}" for name, pid in
                     {"program": program, **self.processes}.items()]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "station.bench._cpu", str(self.output), *arguments],
            stdin=subprocess.PIPE)

    def stop(self) -> tuple[list[str], list[tuple[int, list[int]]]]:
        """The names watched and each sample (monotonic ns, run ns per name)."""
        if self._process is None:
            return [], []
        self._process.communicate(timeout=30)
        lines = self.output.read_text().splitlines() if self.output.exists() else []
        names = lines[0].split() if lines else []
        samples = []
        for line in lines[1:]:
            values = [int(value) for value in line.split()]
            samples.append((values[0], values[1:]))
        return names, samples


def attribute(xrun_times_ns: Sequence[int], names: Sequence[str],
              samples: Sequence[tuple[int, list[int]]]) -> dict[str, int]:
    """How many xruns fell while each process ran the most (``idle``: none ran much)."""
    found: Counter[str] = Counter()
    times = [at for at, _ in samples]
    window = int(WINDOW_SECONDS * 1e9)
    for xrun in xrun_times_ns:
        after = bisect_left(times, xrun)
        before = bisect_left(times, xrun - window)
        if after >= len(samples) or before >= after:
            found["unknown"] += 1  # outside the watched time
            continue
        (start, first), (end, last) = samples[before], samples[after]
        ran = {name: last[i] - first[i] for i, name in enumerate(names)}
        busiest = max(ran, key=lambda name: ran[name])
        found[busiest if ran[busiest] > (end - start) / 10 else "idle"] += 1
    return dict(sorted(found.items()))


if __name__ == "__main__":
    watch(Path(sys.argv[1]),
          {name: int(pid) for name, _, pid in (item.partition("=") for item in sys.argv[2:])})
