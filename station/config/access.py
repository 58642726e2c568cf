"""Access-filter settings as the files give them, their built-in defaults, and merging."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from station.config.problems import Problem
from station.config.schema import Schema

if TYPE_CHECKING:
    from station.config.station_file import InputConfig

AccessMode = Literal["momentary", "latch", "timed"]


class AccessOverride(Schema):
    """Access-filter settings as a file gives them; a key left out (None) keeps the value of
    the layer below it.

    Used for an input's defaults in the station file and for the client's ``[access]`` and
    ``[access.inputs.<input>]`` tables.
    """

    debounce_ms: float | None = Field(default=None, ge=0.0, le=1000.0)
    acceptance_ms: float | None = Field(default=None, ge=0.0, le=5000.0)
    lockout_ms: float | None = Field(default=None, ge=0.0, le=10000.0)
    release_tolerance_ms: float | None = Field(default=None, ge=0.0, le=2000.0)
    mode: AccessMode | None = None
    timed_ms: float | None = Field(default=None, ge=50.0, le=60000.0)
    stuck_s: float | None = Field(default=None, ge=1.0, le=3600.0)


class AccessSection(AccessOverride):
    """A client's ``[access]`` table: settings for every input, then per-input overrides."""

    inputs: dict[str, AccessOverride] = Field(default_factory=dict)


# The built-in access settings, under every layer of the station and client files (file units).
ACCESS_DEFAULTS = AccessOverride(
    debounce_ms=20.0,
    acceptance_ms=0.0,
    lockout_ms=0.0,
    release_tolerance_ms=0.0,
    mode="momentary",
    timed_ms=1000.0,
    stuck_s=30.0,
)
# A session control starts or ends the session only when held this long (milliseconds), so
# that a client cannot do it by accident.
SESSION_HOLD_MS = 2000.0


def input_access_defaults(item: InputConfig) -> AccessOverride | None:
    """The station file's access table of `item`; a session control waits for a long press."""
    if item.action != "session":
        return item.access
    return merge_access(AccessOverride(acceptance_ms=SESSION_HOLD_MS), item.access)


def merge_access(*layers: AccessOverride | None) -> AccessOverride:
    """The built-in defaults overridden by the keys each layer sets, later layers winning; in
    file units, every key set."""
    values: dict[str, Any] = {}
    for layer in (ACCESS_DEFAULTS, *layers):
        if layer is not None:
            values.update(
                (key, getattr(layer, key))
                for key in AccessOverride.model_fields
                if getattr(layer, key) is not None
            )
    return AccessOverride(**values)


def access_problems(merged: AccessOverride, file: Path, where: str) -> list[Problem]:
    """What is inconsistent in a merged access table found at `where` in `file`."""
    problems = []
    acceptance = merged.acceptance_ms or 0.0
    debounce = merged.debounce_ms or 0.0
    if 0.0 < acceptance < debounce:
        problems.append(Problem(
            file,
            f"{where}.acceptance_ms",
            f"{acceptance:g} is shorter than debounce_ms {debounce:g}; a press is only known "
            "to be held once its debounce window has passed: use 0 or at least "
            f"{debounce:g}",
        ))
    if merged.stuck_s is not None and acceptance >= merged.stuck_s * 1000.0:
        problems.append(Problem(
            file,
            f"{where}.acceptance_ms",
            f"{acceptance:g} is not shorter than the stuck-switch guard "
            f"(stuck_s = {merged.stuck_s:g}); no press could ever be accepted",
        ))
    return problems
