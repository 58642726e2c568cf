"""A client's history: the client page (every session, trends as charts with the change
markers, the same numbers as a table) and its CSV of sessions.

For a therapist the client is assigned to; everyone else gets 403 (staff, admins) or 404 (a
therapist's client not assigned to them: `security.client_scope`). Every view and download is
in the audit log. The figures come from `reports.trends`, so the page, its charts and the CSV
are the same numbers.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from station.dashboard.accounts import SignedIn
from station.dashboard.reports.csv_export import write_client_sessions
from station.dashboard.reports.trends import ClientTrends, client_trends
from station.dashboard.reports.words import by_count, plural, reason_words
from station.dashboard.store.people import SessionNote
from station.dashboard.web.app import render
from station.dashboard.web.assets import URL_PREFIX, ChartAssets
from station.dashboard.web.security import address_of, client_scope, context_of, viewer

router = APIRouter()
Viewer = Annotated[SignedIn, Depends(viewer)]


def local_zone() -> tzinfo:
    """The dashboard machine's time zone (as the pages' other times): ``TZ``, else the
    system's; by name, so that a summer session keeps its summer offset in winter."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        target = Path("/etc/localtime")
        name = str(target.resolve()).partition("zoneinfo/")[2] if target.is_symlink() else ""
    try:
        return ZoneInfo(name) if name else _fixed_zone()
    except (ZoneInfoNotFoundError, ValueError):
        return _fixed_zone()


def _fixed_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def report_url(client: str, session_id: str, station: str = "", several: bool = False) -> str:
    """The report page of a session; with the station only when the client played it on
    several."""
    url = f"/clients/{client}/sessions/{session_id}"
    return f"{url}?station={station}" if several else url


def download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


def chart_payload(trends: ClientTrends) -> dict[str, Any]:
    """What history.js draws: the sessions' start times, one chart per measure (its series
    with their labels) and the numbered change markers."""
    data = trends.chart_data()
    series = data["series"]
    reasons = sorted(key.removeprefix("rejected.") for key in series if key.startswith(
        "rejected."))
    not_counted = [{"label": reason_words(code), "values": series[f"rejected.{code}"]}
                   for code in by_count({code: sum(series[f"rejected.{code}"])
                                         for code in reasons})]
    share = [None if value is None else round(value * 100, 1)
             for value in series["independent_share"]]
    goal_charts = [{
        "id": f"goal-{goal.name}",
        "title": f"Goal {goal.name}" + (f": {goal.description}" if goal.description else ""),
        "unit": "% of opportunities",
        "series": [{"label": "met (% of opportunities)", "values": list(goal.percents)}],
        "criterion": goal.criterion_percent, "criterion_words": goal.words,
        "met": goal.met_on.strftime("%d %b %Y") if goal.met_on else "",
        "target_date": goal.target_date or "",
    } for goal in trends.goals]
    sensor_charts = [{
        "id": f"sensor-{name}",
        "title": f"Sensor {name}: how far the client reached",
        "unit": "% of their own range",
        "series": [{"label": "highest movement peak (%)",
                    "values": series[f"sensor.{name}.highest_peak"]},
                   {"label": "lowest movement peak (%)",
                    "values": series[f"sensor.{name}.lowest_peak"]}],
    } for name in sorted({key.split(".")[1] for key in series if key.startswith("sensor.")})]
    charts = [
        ("rate", "Accepted presses per minute", "per minute",
         [{"label": "accepted presses per minute", "values": series["presses_per_minute"]}]),
        ("active", "Active time", "minutes",
         [{"label": "active time (min)", "values": series["active_min"]}]),
        ("stretch", "Longest engaged stretch", "minutes",
         [{"label": "longest engaged stretch (min)", "values": series["longest_stretch_min"]}]),
        ("independent", "Tagged responses that were independent", "%",
         [{"label": "independent (% of tagged)", "values": share}]),
        ("not-counted", "Presses not counted, by reason", "presses",
         not_counted or [{"label": "not counted", "values": [0 for _ in data["x"]]}]),
        ("hold", "Hold times", "ms",
         [{"label": "median (ms)", "values": series["hold_median_ms"]},
          {"label": "mean (ms)", "values": series["hold_mean_ms"]},
          {"label": "longest (ms)", "values": series["hold_max_ms"]}]),
    ]
    return {
        "x": data["x"],
        "charts": goal_charts + sensor_charts + [
            {"id": key, "title": title, "unit": unit, "series": lines}
            for key, title, unit, lines in charts],
        "markers": [{"x": marker["x"], "number": number, "label": marker["label"]}
                    for number, marker in enumerate(data["markers"], start=1)],
    }


def _goal_words(name: str, scored: dict[str, Any]) -> str:
    """One goal's result in a session, for the table: "answers-the-call 75 % (3 of 4)"."""
    if scored.get("behaviour") == "engaged-minutes":
        met = "met" if scored.get("successes") else "not met"
        return f"{name} {met} ({scored.get('minutes', 0):g} min engaged)"
    if scored.get("percent") is None:
        return f"{name}: no opportunity"
    return (f"{name} {scored['percent']:g} % ({scored.get('successes', 0)} of "
            f"{scored.get('opportunities', 0)})")


def _sensor_words(name: str, use: dict[str, Any]) -> str:
    """One sensor's use in a session, for the table: "squeeze: 12 movements, up to 60 %"."""
    movements = int(use.get("movements", 0))
    words = f"{name}: {movements} movement{'' if movements == 1 else 's'}"
    peaks = use.get("peaks")
    return f"{words}, up to {round(float(peaks[1]) * 100)} %" if peaks else words


def _rows(trends: ClientTrends, notes: dict[str, int]) -> list[dict[str, Any]]:
    """The table's rows, newest session first, as the CSV gives them."""
    parts: dict[str, int] = {}
    for point in trends.points:
        parts[point.session_id] = parts.get(point.session_id, 0) + 1
    rows = []
    for point in reversed(trends.points):
        rejected = point.rejected
        rows.append({
            "point": point,
            "url": report_url(trends.client, point.session_id, str(point.station),
                              parts[point.session_id] > 1),
            "not_counted": ", ".join(f"{rejected[code]} {reason_words(code)}"
                                     for code in by_count(rejected)),
            "note_version": notes.get(point.session_id, 0),
            "goals": [_goal_words(name, point.goals[name]) for name in point.goals],
            "sensors": [_sensor_words(name, point.sensors[name])
                        for name in sorted(point.sensors)],
        })
    return rows


@router.get("/clients/{client}", response_class=HTMLResponse)
async def client_page(request: Request, client: str, found: Viewer) -> Response:
    client_scope(found, client)
    context = context_of(request)
    context.require_database()
    zone = local_zone()

    def read() -> tuple[ClientTrends, dict[str, int]]:
        with context.store.transaction() as db:
            trends = client_trends(db, client, zone, context.changes)
            notes = dict(db.execute(
                select(SessionNote.session_id, func.max(SessionNote.version))
                .where(SessionNote.client == client).group_by(SessionNote.session_id)).all())
            return trends, notes

    trends, notes = await run_in_threadpool(read)
    await run_in_threadpool(context.accounts.audit, found.name, "viewed_client", client=client,
                            address=address_of(request))
    charts = ChartAssets(context.assets_dir)
    return render(request, "client.html", client=client, trends=trends,
                  rows=_rows(trends, notes), chart_data=chart_payload(trends),
                  show_sensors=any(point.sensors for point in trends.points),
                  charts_available=charts.available, charts_install=charts.install_command,
                  vendor=URL_PREFIX)


@router.get("/clients/{client}/sessions.csv")
async def client_sessions_csv(request: Request, client: str, found: Viewer) -> Response:
    client_scope(found, client)
    context = context_of(request)
    context.require_database()
    zone = local_zone()

    def write() -> tuple[bytes, int]:
        out = io.StringIO()
        with context.store.transaction() as db:
            rows = write_client_sessions(out, client_trends(db, client, zone, context.changes),
                                         zone)
        return out.getvalue().encode("utf-8"), rows

    content, rows = await run_in_threadpool(write)
    await run_in_threadpool(context.accounts.audit, found.name, "exported", client=client,
                            detail=f"sessions.csv ({plural(rows, 'session')})",
                            address=address_of(request))
    return download(content, "text/csv; charset=utf-8", f"{client}-sessions.csv")
