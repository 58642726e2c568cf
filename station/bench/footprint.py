"""Footprint: the engine's resident memory with every shipped sound set loaded, and the time
from starting the process to ready-to-play.

Runs `station engine --simulate` on a copy of the shipped config (null audio backend, so no
sound card is needed), reads "ready" from its log and its RSS from /proc, and what the engine
logs of its garbage collector: a full collection's time before and after the engine froze
its long-lived objects (a full collection holds the GIL, which pyo's audio callback needs for
every block).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from station.bench._config import copy_config, shipped_config

COLLECTION_LINE = re.compile(
    r"(\d+) long-lived objects frozen; a full collection took ([\d.]+) ms, now ([\d.]+) ms"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="engine starts to time (default 3)")
    parser.add_argument("--config", type=Path, default=None,
                        help="station file whose folder is copied (default: the shipped example)")


def _rss_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def _one_start(config: Path) -> tuple[float, float, tuple[int, float, float]]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "station", "engine", "--simulate", "--config", str(config),
         "--set", "audio.backend=null"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    assert process.stderr is not None
    collection = (0, 0.0, 0.0)
    try:
        for line in process.stderr:
            found = COLLECTION_LINE.search(line)
            if found:
                collection = (int(found[1]), float(found[2]), float(found[3]))
            if " ready: " in line:
                ready = time.monotonic() - started
                break
        else:
            raise RuntimeError("the engine exited before it was ready")
        rss = _rss_megabytes(process.pid)
    finally:
        process.terminate()
        process.communicate(timeout=20)
    return ready, rss, collection


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    import tomllib

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "config"
        config = arguments.config or shipped_config() / "station.toml"
        copy_config(config.parent, copy)
        station = copy / config.name
        text = station.read_text()
        data_dir = tomllib.loads(text)["station"].get("data_dir", "../data")
        station.write_text(text.replace(f'data_dir = "{data_dir}"',
                                        f'data_dir = "{Path(folder) / "data"}"'))
        sound_sets = len(list((copy / "sound-sets").glob("*.toml")))
        results = [_one_start(station) for _ in range(arguments.runs)]
    ready = sorted(r for r, _, _ in results)
    frozen = max(objects for _, _, (objects, _, _) in results)
    return {
        "sound_sets_loaded": sound_sets,
        "start_to_ready_seconds": {"min": round(ready[0], 3), "max": round(ready[-1], 3)},
        "rss_megabytes": round(max(rss for _, rss, _ in results), 1),
        "full_garbage_collection_ms": {
            "before_freezing": max(before for _, _, (_, before, _) in results),
            "after_freezing": max(after for _, _, (_, _, after) in results),
            "objects_frozen": frozen,
        },
        "goals": {"rss_megabytes": 120, "start_to_ready_seconds": 3},
        "caveat": "null audio backend; a machine shared with other work",
    }
