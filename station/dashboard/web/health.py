"""``/health``: is the dashboard well, in words, without signing in (for monitoring)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from station.dashboard.web.security import context_of

router = APIRouter()

# An ingest that takes longer than this from arrival to commit is behind.
LAG_WARNING_SECONDS = 5.0


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 when the database is reachable and the broker connected, else 503; ``problems``
    says what is wrong."""
    context = context_of(request)
    problems: list[str] = []
    database = {"ok": True, "problem": ""}
    reason = context.database_problem()
    if not reason:
        try:
            await run_in_threadpool(context.store.ping)
        except (OperationalError, InterfaceError) as error:
            reason = str(error.orig or error).strip().splitlines()[0]
    if reason:
        database = {"ok": False, "problem": reason}
        problems.append(f"the database cannot be reached: {reason}")
    status = context.ingest_status()
    broker: dict[str, object] = {"ok": False, "address": context.broker}
    ingest: dict[str, object] = {"running": status is not None}
    if status is None:
        problems.append("ingest has not started: it waits for the database")
    else:
        broker.update(ok=status.connected, problem=status.problem, since=status.since)
        ingest.update(waiting=status.waiting, lag_s=status.lag_s,
                      database_problem=status.database_problem)
        if not status.connected:
            problems.append(f"the MQTT broker at {context.broker} cannot be reached: "
                            f"{status.problem}")
        if status.lag_s is not None and status.lag_s > LAG_WARNING_SECONDS:
            problems.append(f"ingest is behind: the last batch was written {status.lag_s:.1f} s "
                            "after it arrived")
        if status.database_problem:
            problems.append(f"ingest cannot write: {status.database_problem}")
    body = {"ok": not problems, "problems": problems, "database": database, "broker": broker,
            "ingest": ingest}
    return JSONResponse(body, status_code=200 if not problems else 503,
                        headers={"Cache-Control": "no-store"})
