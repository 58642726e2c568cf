"""A session's report: the page (figures, timeline, observations, the note with its versions),
saving the note, and the downloads (the PDF and the CSV of its events).

For a therapist the client is assigned to, like the client page; a session that is not the
client's is "not found". Views, saves and downloads are audited. The page, the PDF and the CSV
read the same `SessionReport` and the same note versions, so they say the same.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from station.dashboard.accounts import SignedIn
from station.dashboard.reports.csv_export import write_session_events
from station.dashboard.reports.notes import (
    MAX_NOTE_CHARACTERS,
    NoteRefused,
    NoteVersion,
    note_versions,
    save_note,
)
from station.dashboard.reports.paragraph import (
    cue_words,
    goal_lines,
    objective_data,
    sensor_lines,
)
from station.dashboard.reports.pdf import find_fonts, session_pdf
from station.dashboard.reports.session_report import SessionReport, local, session_report
from station.dashboard.reports.stored import SessionPart, part_events, session_parts
from station.dashboard.reports.words import (
    TAG_WORDS,
    by_count,
    clock,
    date_words,
    duration_words,
    plural,
    reason_words,
)
from station.dashboard.store.models import SessionParticipant
from station.dashboard.web.app import render
from station.dashboard.web.history import download, local_zone, report_url
from station.dashboard.web.security import (
    Forbidden,
    address_of,
    client_scope,
    context_of,
    viewer,
)
from station.dashboard.web.timeline_svg import timeline_svg

router = APIRouter()
Viewer = Annotated[SignedIn, Depends(viewer)]
SESSION = "/clients/{client}/sessions/{session_id}"


@dataclass(frozen=True)
class ReportView:
    """One station's part of a session as the client's therapist sees it."""

    report: SessionReport
    parts: list[SessionPart]
    """the client's parts of the session (several: one per station it was played on)"""
    versions: list[NoteVersion]
    """the saved notes, newest first"""

    @property
    def part_station(self) -> str:
        return str(self.report.station)

    @property
    def draft(self) -> str:
        return objective_data(self.report)

    @property
    def current(self) -> NoteVersion | None:
        return self.versions[0] if self.versions else None


def client_part(db: Session, session_id: str, client: str, station: str) -> tuple[
        SessionPart, list[SessionPart]]:
    """The part of `session_id` on `station` ("" for the first) among those `client` played;
    Forbidden 404 if the client took no part in it."""
    playing = set(db.scalars(select(SessionParticipant.station_id).where(
        SessionParticipant.session_id == session_id, SessionParticipant.client == client)))
    parts = [part for part in session_parts(db, session_id) if part.station_id in playing]
    chosen = next((part for part in parts if not station or str(part.station) == station),
                  None)
    if chosen is None:
        where = f" on station {station}" if station and parts else ""
        raise Forbidden(f"No session {session_id}{where} of {client} has reached the "
                        "dashboard. The client page lists the sessions there are.", status=404)
    return chosen, parts


def read_view(request: Request, client: str, session_id: str, station: str) -> ReportView:
    context = context_of(request)
    with context.store.transaction() as db:
        part, parts = client_part(db, session_id, client, station)
        report = session_report(db, session_id, local_zone(), part.station)
        return ReportView(report, parts, note_versions(db, session_id, client))


def note_source(view: ReportView) -> str:
    """Which text the PDF and the page's box hold, in words."""
    current = view.current
    if current is None:
        return "Drafted from the numbers: no note has been saved for this session yet."
    saved = local(current.created, local_zone())
    return (f"The saved note, version {current.version}, by {current.author} on "
            f"{date_words(saved)} at {saved:%H:%M}.")


def _page(request: Request, client: str, view: ReportView, status: int = 200,
          text: str | None = None, error: str = "", saved: int = 0) -> Response:
    report = view.report
    current = view.current
    return render(
        request, "report.html", status, client=client, view=view, report=report,
        timeline=timeline_svg(report), note_text=text if text is not None else (
            current.text if current else view.draft),
        based_on=current.version if current else 0, error=error, saved=saved,
        note_source=note_source(view), max_note=MAX_NOTE_CHARACTERS,
        path=SESSION.format(client=client, session_id=report.session_id),
        station_query=f"?station={view.part_station}" if len(view.parts) > 1 else "",
        tag_words=TAG_WORDS, reason_words=reason_words, by_count=by_count, clock=clock,
        duration_words=duration_words, date_words=date_words,
        cues=cue_words(report.summary), goals=goal_lines(report.summary),
        sensors=sensor_lines(report.summary),
        not_counted=", ".join(f"{report.rejected[code]} {reason_words(code)}"
                              for code in by_count(report.rejected)))


async def _checked(request: Request, client: str, found: SignedIn, session_id: str,
                   station: str) -> ReportView:
    client_scope(found, client)
    context_of(request).require_database()
    return await run_in_threadpool(read_view, request, client, session_id, station)


@router.get(SESSION, response_class=HTMLResponse)
async def report_page(request: Request, client: str, session_id: str, found: Viewer,
                      station: str = "", saved: int = 0) -> Response:
    view = await _checked(request, client, found, session_id, station)
    await run_in_threadpool(context_of(request).accounts.audit, found.name, "viewed_report",
                            client=client, detail=f"session {session_id}",
                            address=address_of(request))
    return _page(request, client, view, saved=saved)


@router.post(SESSION + "/note", response_class=HTMLResponse)
async def save_session_note(
    request: Request, client: str, session_id: str, found: Viewer, station: str = "",
    text: Annotated[str, Form()] = "", based_on: Annotated[str, Form()] = "0",
) -> Response:
    view = await _checked(request, client, found, session_id, station)
    context = context_of(request)
    # The version the form was drafted from; anything else is no version (so it is refused
    # as out of date when a note exists, never saved over one).
    edited_from = int(based_on) if based_on.isdigit() and len(based_on) < 10 else 0

    def save() -> NoteVersion:
        with context.store.transaction() as db:
            return save_note(db, session_id, client, found.name, text, edited_from,
                             clock=context.clock)

    try:
        saved = await run_in_threadpool(save)
    except NoteRefused as refused:
        # Shown again with every character as typed, and the current note to compare with.
        fresh = await run_in_threadpool(read_view, request, client, session_id, station)
        return _page(request, client, fresh, 422, text=text, error=str(refused))
    await run_in_threadpool(context.accounts.audit, found.name, "saved_note", client=client,
                            detail=f"session {session_id}, version {saved.version}",
                            address=address_of(request))
    base = report_url(client, session_id, view.part_station, len(view.parts) > 1)
    joiner = "&" if "?" in base else "?"
    return RedirectResponse(f"{base}{joiner}saved={saved.version}#note", status_code=303)


@router.get(SESSION + "/report.pdf")
async def report_pdf(request: Request, client: str, session_id: str, found: Viewer,
                     station: str = "") -> Response:
    view = await _checked(request, client, found, session_id, station)
    current = view.current
    content = await run_in_threadpool(
        lambda: session_pdf(view.report, fonts=find_fonts(),
                            note=current.text if current else None,
                            note_source=note_source(view),
                            printed=datetime.now(local_zone())))
    which = f"saved note version {current.version}" if current else "drafted paragraph"
    await run_in_threadpool(context_of(request).accounts.audit, found.name, "exported",
                            client=client, detail=f"report.pdf of session {session_id} "
                            f"({which})", address=address_of(request))
    return download(content, "application/pdf", f"{client}-{session_id}-report.pdf")


@router.get(SESSION + "/events.csv")
async def session_events_csv(request: Request, client: str, session_id: str, found: Viewer,
                             station: str = "") -> Response:
    client_scope(found, client)
    context = context_of(request)
    context.require_database()
    zone = local_zone()

    def write() -> tuple[bytes, int]:
        out = io.StringIO()
        with context.store.transaction() as db:
            part, _ = client_part(db, session_id, client, station)
            rows = write_session_events(out, part_events(db, part), part.station, zone)
        return out.getvalue().encode("utf-8"), rows

    content, rows = await run_in_threadpool(write)
    await run_in_threadpool(context.accounts.audit, found.name, "exported", client=client,
                            detail=f"events.csv of session {session_id} ({plural(rows, 'event')})",
                            address=address_of(request))
    return download(content, "text/csv; charset=utf-8", f"{client}-{session_id}-events.csv")
