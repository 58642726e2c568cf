"""The FastAPI application: routes, templates, static files, and what every page says when
something is wrong.

Every page answers even when the database or the broker is down: a page that needs the
database says, with status 503, that it cannot be reached and that the page comes back by
itself; every page shows a banner while the broker is out of reach.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import InterfaceError, OperationalError

from station.dashboard.rooms import clock_time, duration
from station.dashboard.web.assets import URL_PREFIX, ChartAssets, OptionalFiles
from station.dashboard.web.context import DashboardContext, DatabaseUnavailable
from station.dashboard.web.security import Forbidden, NotSignedIn, context_of, csrf_guard

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["clock_time"] = lambda at: clock_time(at, time.time())
templates.env.filters["duration"] = duration
templates.env.filters["stamp"] = lambda at: time.strftime("%d %b %Y %H:%M:%S", time.localtime(at))


def page_problems(context: DashboardContext) -> list[str]:
    """What is wrong with the dashboard itself, in words, for the banner of every page."""
    problems = []
    database = context.database_problem()
    if database:
        problems.append(f"The dashboard's database cannot be reached ({database}). Pages and "
                        "live counts come back by themselves when it is.")
    status = context.ingest_status()
    if status is not None and status.database_problem and not database:
        problems.append(f"New data cannot be saved ({status.database_problem}); the broker "
                        "keeps it until the database takes it again.")
    if status is not None and not status.connected:
        since = f" since {clock_time(status.since, context.clock())}" if status.since else ""
        problems.append(f"No live data{since}: the broker at {context.broker} cannot be reached "
                        f"({status.problem}). Counts shown may be old; they catch up by "
                        "themselves when it is back.")
    return problems


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """`template` with the viewer (if signed in) and the banner's problems."""
    context = context_of(request)
    values.setdefault("viewer", getattr(request.state, "viewer", None))
    values.setdefault("problems", page_problems(context))
    response = templates.TemplateResponse(request, template, values, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or request.method == "POST"


def create_app(context: DashboardContext) -> FastAPI:
    """The dashboard's web application on `context`'s parts."""
    from station.dashboard.web import (
        admin,
        console,
        health,
        history,
        pages,
        session_pages,
        stream,
    )

    # No API description is served: only signed-in people see what the dashboard offers
    # (`app.openapi()` still lists every route, for the tests).
    app = FastAPI(title="Sensory Music Station dashboard", docs_url=None, redoc_url=None,
                  openapi_url=None, dependencies=[Depends(csrf_guard)])
    app.state.context = context
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    charts = ChartAssets(context.assets_dir if context is not None else None).folder
    if charts is not None:
        app.mount(URL_PREFIX, OptionalFiles(directory=charts, check_dir=False), name="uplot")
    for module in (pages, history, session_pages, stream, admin, health, console):
        app.include_router(module.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # Everything the pages use is served from here: nothing from a CDN, no inline script.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, error: NotSignedIn) -> Response:
        if request.method == "GET" and _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return JSONResponse({"error": "Sign in first."}, status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        if _wants_html(request):
            title = "Not among your clients" if error.status == 404 else "Not for your role"
            return render(request, "problem.html", error.status, title=title,
                          message=str(error))
        return JSONResponse({"error": str(error)}, status_code=error.status)

    async def database_down(request: Request, error: Exception) -> Response:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        log.error("a page could not reach the database: %s", reason)
        message = (f"The dashboard's database cannot be reached ({reason}). This page comes "
                   "back by itself when it is; the stations keep playing and keep their data.")
        if _wants_html(request):
            return render(request, "problem.html", 503, title="Database out of reach",
                          message=message, problems=[])
        return JSONResponse({"error": message}, status_code=503)

    app.add_exception_handler(DatabaseUnavailable, database_down)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(InterfaceError, database_down)

    @app.exception_handler(404)
    async def not_found(request: Request, error: Exception) -> Response:
        if _wants_html(request):
            return render(request, "problem.html", 404, title="No such page",
                          message="There is no page at this address. Use the menu above.")
        return JSONResponse({"error": "no such page"}, status_code=404)

    return app
