"""Contract-valid messages for the dashboard's tests, built as the station builds them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from station.contract.schemas import problems
from station.dashboard.store import Store
from station.dashboard.store.models import Base

SITE = "demo-site"
STATION = "room-1"
ROOT = "sensory/v1"


def event(seq: int, kind: str = "press", *, station: str = STATION, site: str = SITE,
          session: str = "3fa9c1d2e4b5", client: str = "C-7F3K", **extra: Any) -> dict[str, Any]:
    """One event as `Event.as_message` makes it, checked against event.json."""
    message: dict[str, Any] = {
        "id": uuid.uuid4().hex, "seq": seq, "type": kind, "station": station, "site": site,
        "session": session, "client": client, "sound_set": "calm-bells",
        "t_wall": 1764075600.0 + seq, "t_mono": 81234.5 + seq,
    }
    if kind in ("press", "release", "rejected"):
        message["input"] = "big-red"
    if kind == "rejected":
        message["reason"] = "lockout"
    if kind == "release":
        message.update(hold_ms=250.0, press_t_mono=message["t_mono"] - 0.25,
                       press_t_wall=message["t_wall"] - 0.25)
    message.update(extra)
    assert problems("event", message) == [], problems("event", message)
    return message


def events_topic(station: str = STATION, site: str = SITE) -> str:
    return f"{ROOT}/{site}/{station}/events"


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to tell that a write changed nothing."""
    with store.engine.connect() as connection:
        return {
            table: sorted(tuple(row) for row in connection.execute(
                text(f"SELECT * FROM {table}")))
            for table in sorted(Base.metadata.tables)
        }
