"""The dashboard's database: typed models, migrations shipped with the package, and the
`Store` that ingest writes through and the pages will read from."""

from station.dashboard.store import people  # noqa: F401  (its tables join the metadata)
from station.dashboard.store.database import DatabaseError
from station.dashboard.store.records import (
    BatchResult,
    EventRecord,
    IngestReason,
    LiveRecord,
    Record,
    Refusal,
    SeqGap,
    StateRecord,
    StationKey,
    StatusRecord,
    SummaryRecord,
)
from station.dashboard.store.store import StationView, Store

__all__ = [
    "BatchResult",
    "DatabaseError",
    "EventRecord",
    "IngestReason",
    "LiveRecord",
    "Record",
    "Refusal",
    "SeqGap",
    "StateRecord",
    "StationKey",
    "StationView",
    "StatusRecord",
    "Store",
    "SummaryRecord",
]
