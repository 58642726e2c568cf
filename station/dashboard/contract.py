"""What the dashboard takes from the MQTT contract, imported in this one place.

The event types still come from `station.telemetry.eventlog`'s constants; when they become a
single `EventType` enum (issue 9), only the import below changes.
"""

from __future__ import annotations

from typing import Any

from station.telemetry.eventlog import SESSION_END, SESSION_START
from station.telemetry.schemas import problems, schema
from station.telemetry.topics import Topics

__all__ = [
    "NAME_PATTERN",
    "SESSION_END",
    "SESSION_START",
    "Topics",
    "problems",
    "schema",
]


def _event_property(name: str) -> dict[str, Any]:
    properties: dict[str, Any] = schema("event")["properties"]
    return dict(properties[name])


# A site or station name as the contract spells it (`room-1`): topics are checked against it.
NAME_PATTERN: str = _event_property("station")["pattern"]
