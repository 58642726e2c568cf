"""The base of every config table, and the value patterns more than one kind of file uses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# A client's pseudonym (``C-7F3K``), never a real name.
PSEUDONYM_PATTERN = r"^[A-Z][A-Z0-9]{0,3}-[A-Z0-9]{2,12}$"
# Names of stations, sites, inputs, sound sets, samples and rhythms.
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"


class Schema(BaseModel):
    """Base of every config table: unknown keys are errors, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
