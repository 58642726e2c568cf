"""Alembic's environment for the dashboard: run by `station.dashboard.store.database.migrate`
with the engine in ``config.attributes["engine"]``, never from an alembic.ini."""

from __future__ import annotations

from alembic import context

from station.dashboard.store import people  # noqa: F401  (its tables join the metadata)
from station.dashboard.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations copy the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
