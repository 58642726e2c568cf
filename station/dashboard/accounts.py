"""People of the dashboard: users and their roles, assigned clients, sign-ins kept on the
server, and the audit log.

Passwords are hashed with argon2id (argon2-cffi's defaults). The browser holds a random
token; the database holds only its keyed hash (HMAC-SHA256 with the dashboard's secret key),
so a copy of the database lets no one in. Every method runs in a transaction of its own, so
any thread may call it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from station.dashboard.store import Store
from station.dashboard.store.people import (
    USER_NAME,
    Assignment,
    AuditEntry,
    LoginSession,
    User,
)
from station.errors import StationError

USER_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
PSEUDONYM_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,3}-[A-Z0-9]{2,12}$")
SHORTEST_PASSWORD = 10


class Role(StrEnum):
    """What a user may see and do."""

    ADMIN = "admin"
    """users, assignments, the audit log, the rooms"""
    THERAPIST = "therapist"
    """the rooms, and the clients assigned to them"""
    STAFF = "staff"
    """the rooms and their live counts; never notes, reports or exports"""


class AccountError(StationError, ValueError):
    """A user, role, password or client that cannot be used, said in words."""


@dataclass(frozen=True)
class SignedIn:
    """The user behind a valid sign-in."""

    user_id: int
    name: str
    role: Role
    csrf_token: str
    clients: frozenset[str]
    """The clients assigned to them (a therapist sees only these)."""


@dataclass(frozen=True)
class UserView:
    name: str
    role: Role
    clients: tuple[str, ...]


@dataclass(frozen=True)
class AuditView:
    at: float
    user_name: str
    action: str
    client: str | None
    detail: str
    address: str


def check_password(password: str) -> None:
    """Raise AccountError when `password` is too weak to protect health data."""
    if len(password) < SHORTEST_PASSWORD:
        raise AccountError(f"the password has {len(password)} characters; use at least "
                           f"{SHORTEST_PASSWORD} (a few words in a row are easy to remember)")


class Accounts:
    """Users, assignments, sign-ins and the audit log, in the dashboard's database."""

    def __init__(self, store: Store, secret: bytes, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.secret = secret
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        # Verified against when the user does not exist, so that a wrong name takes as long
        # as a wrong password and does not tell which names exist.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    # -- users -----------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str) -> None:
        """A new user; AccountError says what to change."""
        if not USER_NAME_PATTERN.fullmatch(name):
            raise AccountError(f"user name {name!r}: use 1 to 32 lower-case letters, digits, "
                               "'.', '_' or '-', starting with a letter or digit")
        try:
            chosen = Role(role)
        except ValueError:
            raise AccountError(f"role {role!r}: use admin, therapist or staff") from None
        check_password(password)
        with self.store.transaction() as db, db.begin():
            if db.scalar(select(User.id).where(User.name == name)) is not None:
                raise AccountError(f"user {name!r} exists already")
            db.add(User(name=name, role=chosen.value, password_hash=self.hasher.hash(password),
                        created=self.clock(), disabled=False))

    def users(self) -> list[UserView]:
        with self.store.transaction() as db:
            rows = db.scalars(select(User).order_by(User.name)).all()
            assigned: dict[int, list[str]] = {}
            for item in db.scalars(select(Assignment).order_by(Assignment.client)):
                assigned.setdefault(item.user_id, []).append(item.client)
            return [UserView(row.name, Role(row.role), tuple(assigned.get(row.id, [])))
                    for row in rows]

    def assign(self, name: str, client: str, assigned: bool = True) -> None:
        """Assign `client` to therapist `name` (or take the assignment back)."""
        if not PSEUDONYM_PATTERN.fullmatch(client):
            raise AccountError(f"{client!r} is not a client pseudonym; use a code like "
                               "'C-7F3K', never a real name")
        with self.store.transaction() as db, db.begin():
            user = db.scalars(select(User).where(User.name == name)).one_or_none()
            if user is None:
                raise AccountError(f"no user {name!r}; add them with "
                                   "'station dashboard add-user'")
            if user.role != Role.THERAPIST:
                raise AccountError(f"{name!r} is {user.role}: only therapists have clients "
                                   "assigned")
            existing = db.get(Assignment, (user.id, client))
            if assigned and existing is None:
                db.add(Assignment(user_id=user.id, client=client, created=self.clock()))
            elif not assigned and existing is not None:
                db.delete(existing)

    # -- signing in --------------------------------------------------------------------------
    def verify(self, name: str, password: str) -> bool:
        """The password is `name`'s (an unknown or disabled user never is)."""
        with self.store.transaction() as db:
            user = db.scalars(select(User).where(User.name == name)).one_or_none()
        stored = user.password_hash if user is not None and not user.disabled else None
        try:
            self.hasher.verify(stored or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored is not None

    def _key(self, token: str) -> str:
        return hmac.new(self.secret, token.encode(), hashlib.sha256).hexdigest()

    def sign_in(self, name: str, address: str) -> str:
        """A new sign-in for `name` (already verified); the token for the browser's cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.transaction() as db, db.begin():
            user = db.scalars(select(User).where(User.name == name)).one()
            db.add(LoginSession(id=self._key(token), user_id=user.id,
                                csrf_token=secrets.token_urlsafe(32), created=now,
                                last_used=now, address=address[:64]))
        return token

    def signed_in(self, token: str, idle_s: float) -> SignedIn | None:
        """Who `token` signs in, if its sign-in was used within `idle_s` seconds."""
        now = self.clock()
        with self.store.transaction() as db, db.begin():
            found = db.get(LoginSession, self._key(token))
            if found is None:
                return None
            user = db.get(User, found.user_id)
            if user is None or user.disabled or now - found.last_used > idle_s:
                db.delete(found)
                return None
            # Written at most once a minute: a page's many requests need not each write.
            if now - found.last_used > 60:
                found.last_used = now
            clients = frozenset(db.scalars(select(Assignment.client).where(
                Assignment.user_id == user.id)))
            return SignedIn(user.id, user.name, Role(user.role), found.csrf_token, clients)

    def sign_out(self, token: str) -> None:
        with self.store.transaction() as db, db.begin():
            db.execute(delete(LoginSession).where(LoginSession.id == self._key(token)))

    # -- the audit log -------------------------------------------------------------------------
    def audit(self, user_name: str, action: str, *, client: str | None = None,
              detail: str = "", address: str = "") -> None:
        """Record that `user_name` did `action` (``login``, ``login_failed``,
        ``viewed_client``, ``export``, ``command``, ...)."""
        with self.store.transaction() as db, db.begin():
            db.add(AuditEntry(at=self.clock(), user_name=user_name[:USER_NAME], action=action,
                              client=client, detail=detail[:500], address=address[:64]))

    def audit_entries(self, limit: int = 200, actions: Sequence[str] = ()) -> list[AuditView]:
        """The newest entries first."""
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if actions:
            query = query.where(AuditEntry.action.in_(actions))
        with self.store.transaction() as db:
            return [AuditView(row.at, row.user_name, row.action, row.client, row.detail,
                              row.address) for row in db.scalars(query.limit(limit))]
