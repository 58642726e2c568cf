"""Benchmarks: `station bench NAME` runs `station.bench.NAME.run(arguments)` and prints JSON.

Each benchmark module defines `add_arguments(parser)` (optional) and `run(arguments) -> dict`.
Numbers come from the machine and commit they ran on: the result says which.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import subprocess
from pathlib import Path
from typing import Any


def available() -> list[str]:
    return sorted(
        module.name
        for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not module.name.startswith("_")
    )


def load(name: str) -> Any:
    return importlib.import_module(f"station.bench.{name}")


def environment() -> dict[str, Any]:
    """Where the numbers were measured: machine, Python and commit."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "machine": platform.machine(),
        "processor_count": len(__import__("os").sched_getaffinity(0)),
        "python": platform.python_version(),
        "commit": commit or "unknown",
    }
