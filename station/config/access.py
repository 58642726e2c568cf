"""Access-filter settings: their keys in the files, their built-in defaults, and their layers.

This is the one place for the defaults and for how the layers combine. Units: the files give
milliseconds (the ``*_ms`` keys) and the stuck-switch guard in seconds (``stuck_s``);
`AccessSettings`, what the access filter (`station.inputs.access`) reads, is in seconds
throughout.

Layers, later winning (`input_access_layers`):

1. the built-in defaults, `ACCESS_DEFAULTS`;
2. the input's ``access`` table in the station file (a session control first waits for a long
   press, `SESSION_HOLD_MS`);
3. the client profile's ``[access]`` keys;
4. the client profile's ``[access.inputs.<input>]`` keys.

Controls are the therapist's: client profiles do not change them (layers 3 and 4 are left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field

from station.config.problems import Problem
from station.config.schema import Schema

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


class ConfiguredInput(Protocol):
    """What the layering reads of an input of the station file (an `InputConfig`)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def action(self) -> str | None: ...

    @property
    def access(self) -> AccessOverride | None: ...


def input_access_layers(
    item: ConfiguredInput, profile: AccessSection | None
) -> tuple[AccessOverride | None, ...]:
    """The layers over the built-in defaults for station input `item`, lowest first, under a
    client profile's ``[access]`` table (`profile`; None: no client)."""
    if item.role == "control" or profile is None:
        if item.action == "session":
            return (AccessOverride(acceptance_ms=SESSION_HOLD_MS), item.access)
        return (item.access,)
    return (item.access, profile, profile.inputs.get(item.name))


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


def _in_seconds(merged: AccessOverride) -> dict[str, Any]:
    """A merged table's values as `AccessSettings` fields: milliseconds become seconds."""
    return {
        "debounce": (merged.debounce_ms or 0.0) / 1000.0,
        "acceptance": (merged.acceptance_ms or 0.0) / 1000.0,
        "lockout": (merged.lockout_ms or 0.0) / 1000.0,
        "release_tolerance": (merged.release_tolerance_ms or 0.0) / 1000.0,
        "mode": merged.mode,
        "timed": (merged.timed_ms or 0.0) / 1000.0,
        "stuck": merged.stuck_s or 0.0,
    }


_BUILT_IN = _in_seconds(ACCESS_DEFAULTS)


@dataclass(frozen=True)
class AccessSettings:
    """One input's access-filter settings, in seconds; each defaults to `ACCESS_DEFAULTS`.

    debounce: edges this soon after an acting edge are bounce (file: debounce_ms).
    acceptance: a press counts once held this long; 0: at once (acceptance_ms).
    lockout: a press starting this soon after the start of the last accepted one is rejected
    (lockout_ms).
    release_tolerance: drop-outs shorter than this do not end a press (release_tolerance_ms).
    mode: "momentary", "latch" or "timed".
    timed: how long a note sounds in timed mode (timed_ms).
    stuck: a press held this long is released and its input ignored until let go (stuck_s).
    """

    debounce: float = _BUILT_IN["debounce"]
    acceptance: float = _BUILT_IN["acceptance"]
    lockout: float = _BUILT_IN["lockout"]
    release_tolerance: float = _BUILT_IN["release_tolerance"]
    mode: str = _BUILT_IN["mode"]
    timed: float = _BUILT_IN["timed"]
    stuck: float = _BUILT_IN["stuck"]

    @classmethod
    def layered(cls, *layers: AccessOverride | None) -> AccessSettings:
        """The built-in defaults overridden by the keys each layer sets, later layers winning."""
        return cls(**_in_seconds(merge_access(*layers)))

    @classmethod
    def for_input(cls, item: ConfiguredInput, profile: AccessSection | None) -> AccessSettings:
        """Settings of station input `item` under a client profile's ``[access]`` table (None:
        no client), layered as the module docstring says."""
        return cls.layered(*input_access_layers(item, profile))
