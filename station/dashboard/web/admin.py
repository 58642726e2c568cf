"""The admin's pages: users and the clients assigned to therapists, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from station.dashboard.accounts import AccountError, Role, SignedIn
from station.dashboard.web.app import render
from station.dashboard.web.security import address_of, context_of, require

router = APIRouter(prefix="/admin")
Admin = Annotated[SignedIn, Depends(require(Role.ADMIN))]


async def _users_page(request: Request, error: str = "", done: str = "",
                      status: int = 200) -> Response:
    context = context_of(request)
    context.require_database()
    users = await run_in_threadpool(context.accounts.users)
    return render(request, "users.html", status, users=users, error=error, done=done,
                  roles=[role.value for role in Role])


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request, found: Admin, done: str = "") -> Response:
    return await _users_page(request, done=done)


@router.post("/users", response_class=HTMLResponse)
async def add_user(request: Request, found: Admin, name: Annotated[str, Form()],
                   role: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
    context = context_of(request)
    try:
        await run_in_threadpool(context.accounts.add_user, name.strip(), role, password)
    except AccountError as error:
        return await _users_page(request, error=f"Not added: {error}.", status=400)
    await run_in_threadpool(context.accounts.audit, found.name, "user_added",
                            detail=f"{name.strip()} as {role}", address=address_of(request))
    return RedirectResponse(f"/admin/users?done=added+{name.strip()}", status_code=303)


@router.post("/assignments", response_class=HTMLResponse)
async def assign(request: Request, found: Admin, user: Annotated[str, Form()],
                 client: Annotated[str, Form()],
                 remove: Annotated[str, Form()] = "") -> Response:
    context = context_of(request)
    client = client.strip()
    try:
        await run_in_threadpool(context.accounts.assign, user, client, not remove)
    except AccountError as error:
        return await _users_page(request, error=f"Not changed: {error}.", status=400)
    action = "unassigned" if remove else "assigned"
    await run_in_threadpool(context.accounts.audit, found.name, action, client=client,
                            detail=f"to {user}", address=address_of(request))
    return RedirectResponse(f"/admin/users?done={action}+{client}", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, found: Admin) -> Response:
    context = context_of(request)
    context.require_database()
    entries = await run_in_threadpool(context.accounts.audit_entries, 500)
    return render(request, "audit.html", entries=entries)
