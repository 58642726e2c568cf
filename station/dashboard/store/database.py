"""Opening the dashboard's database and bringing its schema up to date.

`sqlite:///path/to/dashboard.sqlite3` is the default kind: one file, WAL journal, foreign keys
enforced, ``synchronous=FULL`` (ingest acknowledges a message to the broker only once it is
committed, so a commit must survive a power cut). A clinic names PostgreSQL by URL,
``postgresql+psycopg://user:password@host/dbname`` (psycopg 3). Either way the schema is
Alembic's: `migrate` runs ``upgrade head`` from the migrations shipped in this package.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

# Alembic names each of its plugins at INFO when it is imported: seven lines at every start.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import Engine, create_engine, event  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402

from station.errors import StationError  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(StationError, RuntimeError):
    """The dashboard's database cannot be opened or brought up to date."""


BACKENDS = ("sqlite", "postgresql")


def database_url(url: str) -> URL:
    """`url` parsed, if it names a backend the dashboard supports."""
    try:
        parsed = make_url(url)
    except Exception as error:  # SQLAlchemy raises ArgumentError, and ValueError for ports
        raise DatabaseError(f"database URL {_hidden(url)!r} cannot be read: {error}") from None
    if parsed.get_backend_name() not in BACKENDS:
        raise DatabaseError(
            f"database URL {_hidden(url)!r}: the dashboard stores its data in SQLite "
            "(sqlite:///path/to/dashboard.sqlite3) or PostgreSQL "
            "(postgresql+psycopg://user:password@host/dbname)"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _hidden(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unreadable>"


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite the file's folder is made and the pragmas set on every
    connection."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Many rows are sent with the driver's own executemany (psycopg: one prepared statement
    # in a pipeline): SQLAlchemy's multi-row VALUES makes psycopg parse a long query per batch.
    return create_engine(parsed, pool_pre_ping=True, use_insertmanyvalues=False)


def alembic_config(engine: Engine) -> Config:
    """Alembic's configuration for this package's migrations, for `engine`'s database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema to `revision` (``head``: the newest this code knows)."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (``base``: nothing)."""
    command.downgrade(alembic_config(engine), revision)
