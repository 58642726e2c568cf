"""The rooms page's live stream: server-sent events, one ``rooms`` event per change.

Each event carries the whole rooms list as the viewer may see it (rendered by the same
template as the page) and the banner, so a browser that reconnects (EventSource does so by
itself, sending ``Last-Event-ID``) is complete again with the first event it gets: it is sent
at once on every connection. A comment every 15 s keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from station.dashboard.accounts import SignedIn
from station.dashboard.web.app import page_problems, templates
from station.dashboard.web.context import DashboardContext, DatabaseUnavailable
from station.dashboard.web.pages import Viewer, visible_rooms
from station.dashboard.web.security import SESSION_COOKIE, context_of

log = logging.getLogger(__name__)
router = APIRouter()

KEEP_ALIVE_SECONDS = 15.0
BANNER_CHECK_SECONDS = 2.0
RECONNECT_MS = 2000
RECHECK_SIGN_IN_SECONDS = 60.0


def rooms_event(context: DashboardContext, found: SignedIn) -> dict[str, object]:
    """The rooms and the banner as HTML, for one ``rooms`` event."""
    problems = page_problems(context)
    rooms: list[dict[str, str]] = []
    try:
        context.require_database()
        now = context.clock()
        card = templates.get_template("_room.html")
        rooms = [{"id": shown.key, "html": card.render(room=shown, now=now, viewer=found)}
                 for shown in visible_rooms(context, found)]
    except (DatabaseUnavailable, OperationalError, InterfaceError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        problems = [f"The dashboard's database cannot be reached ({reason}). Live counts come "
                    "back by themselves when it is.", *problems[1:]]
        return {"rooms": None, "banner": _banner(problems), "now": context.clock()}
    return {"rooms": rooms, "banner": _banner(problems), "now": now}


def _banner(problems: list[str]) -> str:
    return templates.get_template("_banner.html").render(problems=problems)


async def still_signed_in(context: DashboardContext, token: str) -> bool:
    """Whether the sign-in behind a long-lived stream still holds (a database that is down
    does not end it: the banner says so already)."""
    try:
        return await run_in_threadpool(context.accounts.signed_in, token,
                                       context.session_idle_s) is not None
    except (OperationalError, InterfaceError):
        return True


@router.get("/rooms/events")
async def rooms_events(request: Request, found: Viewer) -> StreamingResponse:
    context = context_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")

    async def events() -> AsyncIterator[str]:
        yield f"retry: {RECONNECT_MS}\n\n"
        sent, banner = -1, None
        checked = quiet = time.monotonic()
        while not await request.is_disconnected():
            version = context.hub.version
            # The banner (broker lost, database down) changes without a committed batch.
            if version != sent or page_problems(context) != banner:
                banner = page_problems(context)
                payload = await run_in_threadpool(rooms_event, context, found)
                yield f"id: {version}\nevent: rooms\ndata: {json.dumps(payload)}\n\n"
                sent, quiet = version, time.monotonic()
            elif time.monotonic() - quiet > KEEP_ALIVE_SECONDS:
                yield ": still here\n\n"
                quiet = time.monotonic()
            if time.monotonic() - checked > RECHECK_SIGN_IN_SECONDS:
                checked = time.monotonic()
                if not await still_signed_in(context, token):
                    yield "event: signed-out\ndata: {}\n\n"
                    return
            await context.hub.wait_newer(sent, BANNER_CHECK_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
