"""The therapists' dashboard: its own process, beside the engine and the telemetry agent.

So far it holds the data: `store` (SQLAlchemy models and Alembic migrations, SQLite by
default, PostgreSQL by URL), `ingest` (the MQTT subscriber that fills the store) and `reports`
(summaries, session reports, client trends, CSV and PDF, read from the store).
"""
