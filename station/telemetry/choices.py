"""What a station can switch to: its clients (with their volume ceilings) and sound sets, and
the play inputs a cue may name.

Published retained on ``<base>/choices`` (``choices.json``) so that a dashboard offers only
what the station has. The agent reads them from the same config files as the engine and reads
them again whenever a delivered ``client_changed`` event says the engine may have reloaded
(a reload always records one, whoever asked for it: MQTT, `station control`, SIGHUP).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from station.config import LoadedStation, load_station
from station.config.client import GoalSection
from station.errors import ConfigError

log = logging.getLogger(__name__)


def choices_message(station: LoadedStation) -> dict[str, Any]:
    """The ``choices`` payload of `station`, clients and sound sets in name order."""
    return {
        "clients": [{"client": name,
                     "volume_ceiling_dbfs": station.clients[name].client.volume_ceiling_dbfs,
                     **({"activity": station.clients[name].client.activity}
                        if station.clients[name].client.activity else {})}
                    for name in sorted(station.clients)],
        "sound_sets": sorted(station.sound_sets),
        # What a cue may name as its targets, in the station file's order.
        "play_inputs": [item.name for item in station.config.inputs if item.role == "play"],
        # The variable sensors a calibration may name (cmd/calibrate_sensor).
        "sensors": [{"input": item.name, "kind": item.kind} for item in station.config.inputs
                    if item.is_sensor and item.role == "play"],
        "activities": [{"activity": name,
                        "description": station.activities[name].activity.description}
                       for name in sorted(station.activities)],
    }


class StationChoices:
    """The station's choices as last read; owned by the agent's delivery loop."""

    def __init__(self, station: LoadedStation, overrides: Sequence[str] = ()) -> None:
        self.path: Path = station.path
        self.overrides = list(overrides)
        self.station = station  # as last read: its client profiles hold the goals
        self.message = choices_message(station)

    def reread(self) -> bool:
        """Read the config files again; True when the choices changed. A file that cannot be
        read keeps the last choices (the engine keeps its running settings then too)."""
        try:
            station = load_station(self.path, self.overrides)
            fresh = choices_message(station)
        except ConfigError as error:
            log.warning("the station's choices were not read again (%s); keeping the last",
                        str(error).splitlines()[0] if str(error) else "config problem")
            return False
        changed = fresh != self.message
        self.station, self.message = station, fresh
        return changed

    def goals_of(self, client: str) -> Sequence[GoalSection]:
        """The goals in `client`'s profile as last read (none for a client without one)."""
        profile = self.station.clients.get(client)
        return profile.goals if profile is not None else ()
