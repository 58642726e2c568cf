"""Client-profile files (``clients/*.toml``): one client's safety limits and access settings."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from station.config.access import AccessSection, access_problems, merge_access
from station.config.problems import Problem, validate
from station.config.schema import PSEUDONYM_PATTERN, Schema


class ClientSection(Schema):
    pseudonym: str = Field(pattern=PSEUDONYM_PATTERN)
    # The loudest the station may ever get for this client, dBFS.
    volume_ceiling_dbfs: float = Field(default=-12.0, ge=-60.0, le=0.0)
    # No sound reaches full level faster than this, milliseconds: instruments with a shorter
    # attack (a drum, a pluck) are softened for this client.
    min_attack_ms: float = Field(default=5.0, ge=1.0, le=2000.0)
    # Low-pass cut-off in Hz for sound-sensitive clients; 0 = no cap.
    brightness_cap_hz: float = Field(default=0.0, ge=0.0, le=20000.0)
    # The client's usual activity (activities/*.toml): what the cue control starts; "" none.
    activity: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9-]{0,31})?$")


# The prompt levels, least to most support (cmd/tag_observation); hand-over-hand is another
# name for full physical.
PROMPT_LEVELS: tuple[str, ...] = ("independent", "gestural", "verbal", "model",
                                  "partial-physical", "full-physical")
PROMPT_ALIASES = {"hand-over-hand": "full-physical"}


class GoalSection(Schema):
    """One of the client's goals: a behaviour, its condition and the criterion for mastery.

    ``responds``: the client answers a cue on one of `inputs` (any cue target when empty)
    within `within_seconds`, with at most `prompt_at_most` support, in `criterion_percent` of
    the opportunities (cues) of `criterion_sessions` consecutive sessions.
    ``engaged-minutes``: at least `minutes` of engaged time in a session, in
    `criterion_percent` of `criterion_sessions` consecutive sessions.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    description: str = Field(default="", max_length=200)
    behaviour: Literal["responds", "engaged-minutes"]
    inputs: list[str] = Field(default_factory=list, max_length=8)
    within_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    prompt_at_most: Literal["independent", "gestural", "verbal", "model", "partial-physical",
                            "full-physical"] = "full-physical"
    minutes: float = Field(default=10.0, gt=0.0, le=240.0)
    criterion_percent: float = Field(default=80.0, gt=0.0, le=100.0)
    criterion_sessions: int = Field(default=3, ge=1, le=20)
    target_date: datetime.date | None = None


# The smallest range (of the sensor's) a client's calibration may have.
MIN_SENSOR_SPAN = 0.05


class SensorCalibrationSection(Schema):
    """The client's own range on one variable sensor (``[sensors.NAME]``), like a Skoog's
    per-side settings: a calibration run (cmd/calibrate_sensor) measures floor and ceiling.

    Readings are shares of the sensor's range: 0 far or relaxed, 1 near or squeezed hard.
    """

    floor: float = Field(default=0.0, ge=0.0, lt=1.0)
    ceiling: float = Field(default=1.0, gt=0.0, le=1.0)
    # The share of the client's range above the floor that is no movement at all.
    dead_zone: float = Field(default=0.05, ge=0.0, le=0.5)
    # Sensitivity: below 1 small movements count for more, above 1 they take more effort.
    curve: float = Field(default=1.0, ge=0.25, le=4.0)
    # Smoothing (a 1-euro filter): the cut-off for a still hand, lower = steadier; and how
    # quickly it opens up when the hand moves, higher = less lag.
    steady_hz: float = Field(default=1.0, ge=0.1, le=20.0)
    responsiveness: float = Field(default=4.0, ge=0.0, le=100.0)


class ClientProfile(Schema):
    client: ClientSection
    access: AccessSection = AccessSection()
    goals: list[GoalSection] = Field(default_factory=list, max_length=20)
    sensors: dict[str, SensorCalibrationSection] = Field(default_factory=dict)


def check_client(path: Path, data: dict[str, Any], problems: list[Problem]) -> ClientProfile | None:
    """The client profile in `data` (read from `path`), or None with its problems added.

    Its access tables are checked on their own here; with each input of a station they are
    checked when the station is loaded.
    """
    client = validate(path, ClientProfile, data, problems)
    if client is None:
        return None
    before = len(problems)
    access = client.access
    for where, layer in [("access", None), *(
        (f"access.inputs.{name}", table) for name, table in access.inputs.items()
    )]:
        problems.extend(access_problems(merge_access(access, layer), path, where))
    for name, sensor in client.sensors.items():
        if sensor.ceiling - sensor.floor < MIN_SENSOR_SPAN:
            problems.append(Problem(
                path, f"sensors.{name}.ceiling",
                f"{sensor.ceiling:g} is not above floor = {sensor.floor:g} by at least "
                f"{MIN_SENSOR_SPAN:g} (the client's range would be too small to play)"))
    seen: set[str] = set()
    for number, goal in enumerate(client.goals, start=1):
        if goal.name in seen:
            problems.append(Problem(path, f"goals[#{number}].name",
                                    f"{goal.name!r} is the name of an earlier goal; give each "
                                    "goal a name of its own"))
        seen.add(goal.name)
        if goal.behaviour == "engaged-minutes" and goal.inputs:
            problems.append(Problem(path, f"goals[{goal.name}].inputs",
                                    "an engaged-minutes goal counts every input; leave inputs "
                                    "out (they are for a responds goal)"))
    return client if len(problems) == before else None
