"""The therapist dashboard (issue 10): press to browser, ingest, the client page, footprint.

- `press_to_browser`: a real `station run --simulate` is pressed at 10 presses a second; each
  press's time is the wall clock read right as its line is written to the station. Chromium
  (Debian's, headless) shows the rooms page, live over server-sent events; a MutationObserver
  in the page takes the wall clock (``performance.timeOrigin + performance.now()``) at each
  change of the count. Both clocks are this machine's, so the difference is press to DOM.
- `ingest`: 50 simulated stations (a paho client each, in a process of their own) publish
  contract-valid events, each station its own seq, every 20th event twice (a redelivery), at
  a steady total rate, first to a dashboard on SQLite and then to one on PostgreSQL (Debian's
  server, started for the run). The rate is the unique events over the time from the first
  publish to the last stored; the presses go on meanwhile, for the live p99. Afterwards the
  store is checked: every event once, the redeliveries counted, no seq missing.
- `client_page`: server time for a client with 200 sessions and 500,000 events.
- `footprint`: the dashboard's RSS idle and at its peak under ingest, and the time from its
  start to READY=1 (systemd's notify socket, as its unit waits for) and to a healthy /health.
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from typing import Any

PARTS = ("press_to_browser", "ingest", "client_page", "footprint")
GOALS = {"press_to_browser_p99_ms": 150.0, "events_per_s": 5000.0, "client_page_p95_ms": 200.0}
# (full, --short)
SIZES = {"presses": (300, 30), "ingest_seconds": (20.0, 3.0), "client_sessions": (200, 10),
         "client_events": (500_000, 5_000), "client_runs": (50, 5)}
TOPIC_ROOT = "sensory/v1"
# The broker as docs/dashboard.md sets it up for a dashboard: a deep queue per session.
BROKER_SETTINGS = "max_queued_messages 200000\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART",
                        help=f"run only this part (again for more): {', '.join(PARTS)}")
    parser.add_argument("--short", action="store_true",
                        help="small sizes, to see that it works (numbers mean little)")
    parser.add_argument("--presses", type=int, help="presses for press_to_browser (300)")
    parser.add_argument("--press-rate", type=float, default=10.0,
                        help="presses per second (default 10)")
    parser.add_argument("--stations", type=int, default=50,
                        help="simulated stations publishing for ingest (default 50)")
    parser.add_argument("--ingest-rate", type=float, default=6000.0,
                        help="events per second they publish in all (default 6000)")
    parser.add_argument("--ingest-seconds", type=float, help="how long they publish (20)")
    parser.add_argument("--backends", nargs="+", choices=("sqlite", "postgresql"),
                        default=["sqlite", "postgresql"], help="databases for ingest")
    parser.add_argument("--mqtt-protocol", choices=("5", "3.1.1"), default="3.1.1",
                        help="ingest's MQTT protocol (its `ingest_protocol`; default 3.1.1, "
                        "as it ships)")
    parser.add_argument("--client-database", default="",
                        help="client_page: database URL to fill and read (a new SQLite file)")
    parser.add_argument("--client-sessions", type=int, help="client_page: sessions (200)")
    parser.add_argument("--client-events", type=int, help="client_page: events (500000)")
    parser.add_argument("--client-runs", type=int, help="client_page: timed loads (50)")


def _size(arguments: argparse.Namespace, name: str) -> Any:
    given = getattr(arguments, name)
    full, short = SIZES[name]
    return given if given is not None else (short if arguments.short else full)


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    parts = arguments.only or list(PARTS)
    result: dict[str, Any] = {}
    if set(parts) - {"client_page"}:
        result.update(_live(arguments, parts))
    if "client_page" in parts:
        from station.bench._client_page import measure

        result["client_page"] = measure(
            arguments.client_database, _size(arguments, "client_sessions"),
            _size(arguments, "client_events"), _size(arguments, "client_runs"))
    result["goals"] = GOALS
    result["caveat"] = "a machine shared with other work" if not arguments.short else (
        "--short: sizes too small to measure anything")
    return result


def _live(arguments: argparse.Namespace, parts: list[str]) -> dict[str, Any]:
    from station.bench._dashboard_rig import BenchDashboard, PressingStation, RoomsPage
    from station.bench._station import BenchBroker, bench_folder, station_file

    folder = bench_folder()
    broker = BenchBroker(folder, BROKER_SETTINGS)
    station = PressingStation(station_file(folder, broker.port))
    page: RoomsPage | None = None
    postgres: Any = None
    out: dict[str, Any] = {}
    ingests: dict[str, dict[str, Any]] = {}
    try:
        page = RoomsPage()
        # SQLite, the default, has the press-to-browser run and the footprint; the footprint's
        # RSS under ingest is SQLite's ingest.
        loaded = set(arguments.backends if "ingest" in parts else ())
        if "footprint" in parts:
            loaded.add("sqlite")
        backends = [backend for backend in ("sqlite", "postgresql") if backend in loaded
                    or (backend == "sqlite" and "press_to_browser" in parts)]
        for backend in backends:
            if backend == "postgresql":
                from station.bench._postgres import PostgresServer

                postgres = PostgresServer()
                postgres.start()
                url = postgres.create_database("bench")
            else:
                url = f"sqlite:///{folder / 'sqlite' / 'data' / 'dashboard.sqlite3'}"
            dashboard = BenchDashboard(folder / backend, broker.port, url,
                                       arguments.mqtt_protocol)
            dashboard.add_therapist()
            dashboard.start()
            try:
                page.open(dashboard)
                if backend == "sqlite":
                    out["footprint"] = {
                        "start_to_ready_s": round(dashboard.start_to_ready_s, 2),
                        "start_to_healthy_s": round(dashboard.start_to_healthy_s, 2),
                        "rss_mb": {"idle": round(dashboard.rss_mb(), 1)}}
                    if "press_to_browser" in parts:
                        out["press_to_browser"] = _press_to_browser(arguments, station, page)
                if backend in loaded:
                    ingests[backend] = _ingest(arguments, dashboard, url, broker.port,
                                               station, page)
            finally:
                dashboard.stop()
    finally:
        if page is not None:
            page.close()
        station.stop()
        broker.stop()
        if postgres is not None:
            postgres.remove()
        shutil.rmtree(folder, ignore_errors=True)
    peaks = {backend: details.pop("peak_rss_mb") for backend, details in ingests.items()}
    if "footprint" in parts:
        out["footprint"]["rss_mb"]["under_ingest"] = peaks["sqlite"]
    else:
        out.pop("footprint", None)
    ingests = {backend: details for backend, details in ingests.items()
               if backend in arguments.backends and "ingest" in parts}
    if ingests:
        worst = max((details["press_to_browser"]["p99_ms"] for details in ingests.values()
                     if details["press_to_browser"]["p99_ms"] is not None), default=None)
        out["ingest"] = {
            **{f"{backend}_events_per_s": details["events_per_s"]
               for backend, details in ingests.items()},
            "press_to_browser_p99_ms": worst,
            "stations": arguments.stations,
            "offered_events_per_s": arguments.ingest_rate,
            "mqtt_protocol": arguments.mqtt_protocol,
            "backends": ingests,
            "goal_met": all(details["events_per_s"] >= GOALS["events_per_s"]
                            and details["stored_once"] for details in ingests.values())
            and worst is not None and worst <= GOALS["press_to_browser_p99_ms"],
        }
    return out


def _latency_summary(latencies: list[float], presses: int) -> dict[str, Any]:
    from station.bench._station import percentiles

    found = percentiles(latencies)
    return {"p50_ms": found.get("p50"), "p99_ms": found.get("p99"), "max_ms": found.get("max"),
            "presses": presses, "shown": len(latencies)}


def _press_to_browser(arguments: argparse.Namespace, station: Any, page: Any) -> dict[str, Any]:
    from station.bench._dashboard_rig import press_latencies

    presses = _size(arguments, "presses")
    latencies = press_latencies(station, page, presses, arguments.press_rate)
    summary = _latency_summary(latencies, presses)
    return {**summary, "rate_per_s": arguments.press_rate,
            "goal_met": summary["p99_ms"] is not None
            and summary["p99_ms"] <= GOALS["press_to_browser_p99_ms"]}


def _ingest(arguments: argparse.Namespace, dashboard: Any, url: str, port: int,
            station: Any, page: Any) -> dict[str, Any]:
    from station.bench._dashboard_rig import press_latencies
    from station.bench._ingest_load import Load, LoadProcess

    seconds = _size(arguments, "ingest_seconds")
    load = Load(port, TOPIC_ROOT, arguments.stations, arguments.ingest_rate, seconds)
    publishers = LoadProcess(load)
    publishers.start()
    peak = [dashboard.rss_mb()]
    sampled = [time.monotonic()]

    def sample() -> None:
        if time.monotonic() - sampled[0] >= 0.5:
            peak.append(dashboard.rss_mb())
            sampled[0] = time.monotonic()

    cpu = dashboard.cpu_seconds()
    publishers.go()
    presses = max(1, int(seconds * arguments.press_rate))
    latencies = press_latencies(station, page, presses, arguments.press_rate, during=sample)
    report = publishers.result(timeout=seconds + 300)
    stored_at, check = _wait_stored(url, load, timeout=120.0, during=sample)
    peak.append(dashboard.rss_mb())
    cpu = dashboard.cpu_seconds() - cpu
    return {
        "events_per_s": round(check["stored"] / (stored_at - report["began"])),
        "events": load.unique_events,
        "published_per_s": round(report["messages"] / (report["published"] - report["began"])),
        "redeliveries_published": load.resent,
        # What the rate would be on a core of its own, had it nothing else to do.
        "dashboard_cpu_us_per_event": round(cpu / (load.unique_events + load.resent) * 1e6),
        **check,
        "press_to_browser": _latency_summary(latencies, presses),
        "peak_rss_mb": round(max(peak), 1),
    }


def _wait_stored(url: str, load: Any, timeout: float,
                 during: Any) -> tuple[float, dict[str, Any]]:
    """When the store held every unique event of `load` (wall clock), and what it holds."""
    from sqlalchemy import func, select

    from station.bench._ingest_load import SITE
    from station.dashboard.store.database import open_engine
    from station.dashboard.store.models import Event, IngestCounter, Station, StoredGap

    engine = open_engine(url)
    loaded = select(Station.id).where(Station.site == SITE).scalar_subquery()
    count = select(func.count()).select_from(Event).where(Event.station_id.in_(loaded))
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as connection:
            while True:
                stored = int(connection.execute(count).scalar() or 0)
                connection.rollback()  # see the dashboard's next commits
                if stored >= load.unique_events or time.monotonic() > deadline:
                    stored_at = time.time()
                    break
                during()
                pause.wait(0.05)
            duplicates = connection.execute(select(IngestCounter.count).where(
                IngestCounter.reason == "duplicate")).scalar() or 0
            gaps = connection.execute(select(func.count()).select_from(StoredGap).where(
                StoredGap.station_id.in_(loaded))).scalar() or 0
            highest = set(connection.execute(select(Station.highest_seq).where(
                Station.site == SITE)).scalars())
    finally:
        engine.dispose()
    return stored_at, {
        "stored": stored, "duplicates_counted": int(duplicates), "gaps_left": int(gaps),
        "stored_once": stored == load.unique_events and duplicates >= load.resent
        and gaps == 0 and highest == {load.events_per_station},
    }

