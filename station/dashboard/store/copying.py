"""Copying the dashboard's whole database to another one: SQLite to PostgreSQL when a clinic
outgrows the single file (the move Home Assistant's users ask for and never got), or back.

`copy_database` brings the target's schema to the same Alembic revision as the source's,
refuses a target that already holds data, and copies every table in foreign-key order in one
transaction of the target: a copy that fails half-way leaves the target as empty as it was,
and the source is only read. Sign-ins are not copied (everyone signs in again on the new
database); everything else is, ids included, so links and exports stay the same. On
PostgreSQL the id sequences are moved past the copied ids. The row counts of source and
target are compared before the copy counts as done.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Integer, Table, func, insert, select, text

from station.dashboard.store import people
from station.dashboard.store.database import DatabaseError, migrate
from station.dashboard.store.models import Base

# Rows per INSERT: large enough to be quick, small enough for a Pi's memory.
CHUNK_ROWS = 5_000
NOT_COPIED = frozenset({people.LoginSession.__tablename__})


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def copied_tables() -> list[Table]:
    """The tables a copy writes, parents before children."""
    return [table for table in Base.metadata.sorted_tables if table.name not in NOT_COPIED]


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
                for table in copied_tables()}


def copy_database(source: Engine, target: Engine,
                  progress: Callable[[str, int], None] = lambda table, rows: None
                  ) -> dict[str, int]:
    """Every row of `source` into the empty `target`; the rows copied, by table.

    Raises DatabaseError, saying what to do, when the schemas differ or the target has data.
    """
    migrate(source)  # the same as the dashboard does on start: a no-op on an up-to-date file
    migrate(target)
    if _revision(source) != _revision(target):
        raise DatabaseError(
            f"the two databases have different schema versions ({_revision(source)} and "
            f"{_revision(target)}); run the same version of the station on both")
    holding = {name: rows for name, rows in _counts(target).items() if rows}
    if holding:
        listed = ", ".join(f"{name} ({rows} rows)" for name, rows in sorted(holding.items()))
        raise DatabaseError(
            f"the target database already holds data: {listed}; copy into a new, empty "
            "database, so that nothing in it is overwritten or mixed")
    copied: dict[str, int] = {}
    with source.connect() as reading, target.begin() as writing:
        for table in copied_tables():
            rows = 0
            result = reading.execution_options(stream_results=True).execute(select(table))
            for chunk in result.partitions(CHUNK_ROWS):
                writing.execute(insert(table), [dict(row._mapping) for row in chunk])
                rows += len(chunk)
            copied[table.name] = rows
            progress(table.name, rows)
        if target.dialect.name == "postgresql":
            _move_sequences(writing)
    expected = _counts(source)
    if _counts(target) != expected:
        raise DatabaseError(
            "the copy does not have the rows the source has (was the dashboard still running "
            "and writing to the source?); stop it, empty the target and copy again")
    return copied


def _move_sequences(writing: Connection) -> None:
    """Each integer id's sequence past the highest copied id, so new rows get new ids."""
    for table in copied_tables():
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer) or key[0].foreign_keys:
            continue
        column = key[0].name
        writing.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
            f"COALESCE((SELECT MAX({column}) FROM {table.name}), 0) + 1, false)"))
