"""Signing in and out, the rooms page, and the list of clients (a client's own page is
`history`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from station.dashboard.accounts import Role, SignedIn
from station.dashboard.rooms import Room, room
from station.dashboard.store.models import Client
from station.dashboard.store.people import Assignment
from station.dashboard.web.app import render
from station.dashboard.web.context import DashboardContext
from station.dashboard.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    address_of,
    context_of,
    new_login_token,
    require,
    set_cookie,
    viewer,
)

router = APIRouter()
Viewer = Annotated[SignedIn, Depends(viewer)]
Therapist = Annotated[SignedIn, Depends(require(Role.THERAPIST, Role.ADMIN))]


def _next_page(target: str) -> str:
    """Only a page of this dashboard (``/rooms``), never another site (``//evil``)."""
    return target if target.startswith("/") and not target.startswith("//") else "/rooms"


@router.get("/")
async def home(found: Viewer) -> Response:
    return RedirectResponse("/rooms", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/rooms") -> Response:
    token = new_login_token()
    response = render(request, "login.html", csrf_token=token, next=_next_page(next),
                      error="", name="")
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, name: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = "/rooms") -> Response:
    context = context_of(request)
    address = address_of(request)
    name = name.strip().lower()

    def again(error: str, status: int) -> Response:
        token = new_login_token()
        response = render(request, "login.html", status, csrf_token=token,
                          next=_next_page(next), error=error, name=name)
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    refusal = context.limiter.refusal(name, address)
    if refusal:
        await run_in_threadpool(context.accounts.audit, name or "-", "login_refused",
                                detail="too many failed sign-ins", address=address)
        return again(refusal, 429)
    context.require_database()
    if not await run_in_threadpool(context.accounts.verify, name, password):
        context.limiter.failed(name, address)
        await run_in_threadpool(context.accounts.audit, name or "-", "login_failed",
                                address=address)
        return again("That user name and password do not match. Check both and try again.",
                     401)
    context.limiter.succeeded(name)
    token = await run_in_threadpool(context.accounts.sign_in, name, address)
    await run_in_threadpool(context.accounts.audit, name, "login", address=address)
    response = RedirectResponse(_next_page(next), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, found: Viewer) -> Response:
    context = context_of(request)
    await run_in_threadpool(context.accounts.sign_out, request.cookies.get(SESSION_COOKIE, ""))
    await run_in_threadpool(context.accounts.audit, found.name, "logout",
                            address=address_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def visible_rooms(context: DashboardContext, found: SignedIn) -> list[Room]:
    """Every station, as `found` may see it: a therapist sees the client, counts and problems
    only where a client of theirs plays."""
    views = context.store.stations()
    starts = context.store.session_starts(
        [view.state["session"] for view in views if view.state and view.state.get("session")])
    assigned = found.clients if found.role is Role.THERAPIST else None
    now = context.clock()
    return [room(view, now, starts, assigned) for view in views]


@router.get("/rooms", response_class=HTMLResponse)
async def rooms(request: Request, found: Viewer) -> Response:
    context = context_of(request)
    context.require_database()
    shown = await run_in_threadpool(visible_rooms, context, found)
    return render(request, "rooms.html", rooms=shown, now=context.clock(),
                  version=context.hub.version)


@router.get("/clients", response_class=HTMLResponse)
async def clients(request: Request, found: Therapist) -> Response:
    context = context_of(request)
    context.require_database()

    def listed() -> list[tuple[str, float | None]]:
        with context.store.transaction() as db:
            known = {name: first for name, first in db.execute(
                select(Client.pseudonym, Client.first_t_wall))}
            if found.role is Role.THERAPIST:
                names = sorted(found.clients)
            else:
                names = sorted(set(known) | set(db.scalars(select(Assignment.client))))
            return [(name, known.get(name)) for name in names]

    return render(request, "clients.html", clients=await run_in_threadpool(listed))
