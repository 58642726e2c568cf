"""Client-profile files (``clients/*.toml``): one client's safety limits and access settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


class ClientProfile(Schema):
    client: ClientSection
    access: AccessSection = AccessSection()


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
    return client if len(problems) == before else None
