"""Activity files (``activities/*.toml``): a run of cues with its window and re-cue settings,
which the station sounds one after another by itself (docs/cues.md, "Activities")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from station.config.problems import Problem, validate
from station.config.schema import NAME_PATTERN, Schema


class ActivitySection(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=300)
    # The play inputs that answer each cue; [] = every play input of the station.
    targets: list[str] = Field(default_factory=list, max_length=8)
    window_seconds: float = Field(default=5.0, ge=1.0, le=60.0)
    recues: int = Field(default=0, ge=0, le=3)
    quieter_db: float = Field(default=3.0, ge=0.0, le=12.0)
    cues: int = Field(default=10, ge=1, le=100)  # how many cues one run sounds
    pause_seconds: float = Field(default=3.0, ge=0.5, le=120.0)  # after an outcome


class Activity(Schema):
    activity: ActivitySection


def check_activity(path: Path, data: dict[str, Any], problems: list[Problem]) -> Activity | None:
    """The activity in `data` (read from `path`), or None with its problems added; its targets
    are checked against the station's inputs when the station is loaded."""
    return validate(path, Activity, data, problems)
