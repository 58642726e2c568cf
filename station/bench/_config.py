"""Where the benchmarks find the example configuration they measure with, and copying it
into a benchmark's own folder with a sentence (not a traceback) when that cannot be done.

In a source checkout the examples are its `config/`; an installed station (scripts/install-pi.sh)
keeps a pristine copy in `<prefix>/examples/config` (default /opt/sensory-station), because the
copy in /etc/sensory-station is the room's own and may have been edited. `$STATION_EXAMPLES`
names another folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from station.errors import StationError

SOURCE_CHECKOUT_CONFIG = Path(__file__).resolve().parents[2] / "config"
INSTALLED_EXAMPLES = Path("/opt/sensory-station/examples/config")


def shipped_config() -> Path:
    """The folder of the shipped example configuration (station.toml, sound-sets/, clients/)."""
    candidates = [Path(os.environ["STATION_EXAMPLES"])] if os.environ.get("STATION_EXAMPLES") \
        else [SOURCE_CHECKOUT_CONFIG, INSTALLED_EXAMPLES]
    for folder in candidates:
        if (folder / "station.toml").is_file():
            return folder
    looked = " or ".join(str(folder) for folder in candidates)
    raise StationError(
        f"the benchmarks measure with the shipped example configuration, which is not at "
        f"{looked}; run them from a source checkout, install with scripts/install-pi.sh, or "
        "name the folder with STATION_EXAMPLES=/path/to/config")


def copy_config(folder: Path, target: Path) -> None:
    """`folder` (a station's configuration folder) copied to `target`."""
    try:
        shutil.copytree(folder, target)
    except shutil.Error as error:
        unreadable = error.args[0][0] if error.args and error.args[0] else ("", "", str(error))
        raise StationError(
            f"{unreadable[0]} cannot be read ({unreadable[2]}); run the benchmark as a user "
            "who may read the station's configuration, for example with "
            "sudo -u sensory-station, or pass --config with a copy you may read") from None
    except OSError as error:
        raise StationError(
            f"{folder} cannot be copied ({error.strerror or error}); run the benchmark as a "
            "user who may read the station's configuration, for example with "
            "sudo -u sensory-station") from None
