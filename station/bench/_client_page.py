"""`station bench dashboard`'s `client_page`: server time to build a client's trends across
200 sessions and 500,000 events (goal p95 at most 200 ms).

Fills a store (a new SQLite file by default, or `--database URL`, e.g. a PostgreSQL database)
through `Store.write` with a made-up history of one client (`station.bench._history`), then
times what the client page needs from the store: `client_trends` with a `ChangeCache` as the
dashboard process keeps one, and the chart's data encoded as JSON. `cold_ms` is the first
call (an empty cache, as after the dashboard starts). There are no pages yet, so no HTML is
rendered. A database that already holds the history is reused, not filled again.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

GOAL_P95_MS = 200.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(database: str, sessions: int, events: int, runs: int) -> dict[str, Any]:
    """Fill (or reuse) the store at `database` ("": a new SQLite file) and time `runs` loads."""
    from sqlalchemy import func, select

    from station.bench._history import History, fill
    from station.dashboard.reports.changes import ChangeCache
    from station.dashboard.reports.trends import client_trends
    from station.dashboard.store import Store
    from station.dashboard.store.models import SessionParticipant

    history = History(sessions=sessions, events_per_session=max(10, events // sessions))
    with tempfile.TemporaryDirectory(prefix="bench-client-page-") as folder:
        url = database or f"sqlite:///{Path(folder) / 'dashboard.sqlite3'}"
        store = Store.open(url)
        try:
            with store.transaction() as db:
                held = db.scalar(select(func.count()).select_from(SessionParticipant).where(
                    SessionParticipant.client == history.client)) or 0
            began = time.monotonic()
            written = fill(store, history) if held < history.sessions else 0
            filled = time.monotonic() - began
            stored = store.event_count()
            tz = ZoneInfo("Europe/Berlin")
            cache = ChangeCache()
            times = []
            for _ in range(runs + 1):
                began = time.perf_counter()
                with store.transaction() as db:
                    trends = client_trends(db, history.client, tz, cache)
                    page = json.dumps(trends.chart_data())
                times.append((time.perf_counter() - began) * 1000.0)
            backend = store.engine.dialect.name
        finally:
            store.close()
    warm = times[1:]
    p95 = _percentile(warm, 0.95)
    return {
        "backend": backend,
        "sessions": len(trends.points),
        "events": stored,
        "markers": len(trends.markers),
        "chart_json_kb": round(len(page) / 1024, 1),
        "runs": len(warm),
        "cold_ms": round(times[0], 1),
        "p50_ms": round(statistics.median(warm), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(warm), 1),
        "goal_p95_ms": GOAL_P95_MS,
        "goal_met": p95 <= GOAL_P95_MS,
        "filled_events": written,
        "fill_s": round(filled, 1),
        "measures": "the client page's data from the store (client_trends with a "
                    "ChangeCache, chart data as JSON); no HTML yet",
    }
