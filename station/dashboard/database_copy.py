"""`station dashboard copy-database URL`: the dashboard's data copied to another database,
for moving from the SQLite file to a clinic's PostgreSQL (docs/dashboard.md, "Moving to
PostgreSQL")."""

from __future__ import annotations

from station.config import DashboardConfig
from station.dashboard.store.copying import copy_database
from station.dashboard.store.database import DatabaseError, database_url, open_engine
from station.errors import StationError


def _shown(url: str) -> str:
    return database_url(url).render_as_string(hide_password=True)


def run_copy(config: DashboardConfig, target_url: str) -> int:
    """Copy the configured database to `target_url` and say what to change next."""
    if database_url(target_url) == database_url(config.database_url):
        raise StationError("the target is the database the dashboard already uses; name "
                           "another one")
    source = open_engine(config.database_url)
    target = open_engine(target_url)
    try:
        print(f"copying {_shown(config.database_url)} to {_shown(target_url)}")
        copied = copy_database(
            source, target, lambda table, rows: print(f"  {table}: {rows} rows"))
    except DatabaseError:
        raise
    except Exception as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StationError(f"the copy failed and the target was left as it was: {reason}"
                           ) from None
    finally:
        source.dispose()
        target.dispose()
    print(f"done: {sum(copied.values())} rows in {len(copied)} tables; the source is unchanged.")
    print(f"Next: set database_url = \"{_shown(target_url)}\" (with its password) in the "
          "[dashboard] settings and start the dashboard again. Everyone signs in again.")
    return 0
