"""Configuration: TOML files validated by typed schemas, with every problem collected.

Three kinds of file live under ``config/``, each with a module of its own:

* the station file (``station.toml``, `station_file`): station identity, audio, GPIO, MQTT and
  the inputs;
* sound-set files (``sound-sets/*.toml``, `sound_set`): what each play input sounds like;
* client-profile files (``clients/*.toml``, `client`): per-client safety and access settings;
* the dashboard's settings (`dashboard`): the station file's ``[dashboard]`` table, or a
  dashboard file (``dashboard.toml``) of a clinic's central dashboard.

`access` holds the access settings' defaults and layers, `problems` the problems as data, and
`loading` reads the files and checks them against each other. Every problem is shown as
``file: section.key: message`` naming the bad value and what is allowed, so that a therapist
can fix the file without reading code.

Imports run downward: `schema` and `problems` at the bottom, then `access`, the three kinds of
file, and `loading` on top; below them all only `station.music` and `station.errors`.
"""

from station.config.access import AccessOverride, AccessSection, AccessSettings
from station.config.client import ClientProfile, ClientSection
from station.config.dashboard import BrokerSettings, DashboardConfig
from station.config.loading import (
    LoadedStation,
    check_files,
    data_dir_of,
    effective_config,
    load_dashboard,
    load_station,
)
from station.config.problems import Problem
from station.config.sound_set import RhythmConfig, SoundSet
from station.config.station_file import AudioSection, InputConfig, StationConfig

__all__ = [
    "AccessOverride",
    "AccessSection",
    "AccessSettings",
    "AudioSection",
    "BrokerSettings",
    "ClientProfile",
    "ClientSection",
    "DashboardConfig",
    "InputConfig",
    "LoadedStation",
    "Problem",
    "RhythmConfig",
    "SoundSet",
    "StationConfig",
    "check_files",
    "data_dir_of",
    "effective_config",
    "load_dashboard",
    "load_station",
]
