"""Names of the instruments the engine can build, importable without pyo."""

from __future__ import annotations

INSTRUMENT_NAMES: tuple[str, ...] = ("bell", "pluck")
