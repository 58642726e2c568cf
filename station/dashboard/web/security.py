"""Who is asking, and may they: the sign-in cookie, roles, client scope and CSRF.

Every route but the sign-in page, the static files and ``/health`` depends on `viewer`.
`csrf_guard` is a dependency of the whole app: every POST, PUT, PATCH or DELETE must carry the
token of its sign-in (a form's ``csrf_token`` field, or the ``X-CSRF-Token`` header of a
script's request); the sign-in form carries the token of its own cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from station.dashboard.accounts import Role, SignedIn
from station.dashboard.web.context import DashboardContext
from station.errors import StationError

SESSION_COOKIE = "sensory_session"
LOGIN_CSRF_COOKIE = "sensory_login_csrf"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotSignedIn(StationError, PermissionError):
    """The request needs a sign-in it does not have."""


class Forbidden(StationError, PermissionError):
    """Signed in, but not allowed; the message says why, for the person."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def context_of(request: Request) -> DashboardContext:
    context: DashboardContext = request.app.state.context
    return context


def address_of(request: Request) -> str:
    return request.client.host if request.client else ""


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None = None) -> None:
    """HttpOnly, SameSite=Strict, and Secure whenever the page came over HTTPS (the
    dashboard's own TLS, or a proxy's ``X-Forwarded-Proto`` from 127.0.0.1)."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")


async def viewer(request: Request) -> SignedIn:
    """The signed-in user, or NotSignedIn (the app sends the browser to the sign-in page)."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, SignedIn):
        return cached
    context = context_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise NotSignedIn("not signed in")
    context.require_database()
    found = await run_in_threadpool(context.accounts.signed_in, token, context.session_idle_s)
    if found is None:
        raise NotSignedIn("the sign-in has ended")
    request.state.viewer = found
    return found


def require(*roles: Role) -> Callable[[Request], Awaitable[SignedIn]]:
    """A dependency: the viewer, if their role is one of `roles`."""
    async def check(request: Request) -> SignedIn:
        found = await viewer(request)
        if found.role not in roles:
            raise Forbidden(ROLE_REFUSALS.get(found.role, "This page is not for your role."))
        return found

    return check


ROLE_REFUSALS = {
    Role.STAFF: "Staff see the rooms and their live counts. Client pages, notes and reports "
                "are for the client's therapist.",
    Role.ADMIN: "Admins manage users, assignments and the audit log. A client's page is for "
                "the therapists the client is assigned to.",
    Role.THERAPIST: "This page is for admins. Ask an admin if you need something changed.",
}


def client_scope(found: SignedIn, client: str) -> None:
    """Raise Forbidden unless `found` may see `client`'s data: a therapist the client is
    assigned to. An unassigned client is "not found", so no one learns who else exists."""
    if found.role is not Role.THERAPIST:
        raise Forbidden(ROLE_REFUSALS[found.role])
    if client not in found.clients:
        raise Forbidden(f"No client {client} among the clients assigned to you. An admin can "
                        "assign clients.", status=404)


async def csrf_guard(request: Request) -> None:
    """Refuse a state-changing request that does not carry its sign-in's CSRF token."""
    if request.method not in STATE_CHANGING:
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token", "")
        sent = value if isinstance(value, str) else ""
    if request.url.path == "/login":
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    else:
        expected = (await viewer(request)).csrf_token
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("This form has expired or came from another page. Reload the page and "
                        "try again.")


def new_login_token() -> str:
    return secrets.token_urlsafe(32)
