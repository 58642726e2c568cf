"""Who uses the dashboard and what they did: users, the clients assigned to them, their
sign-ins, the audit log; and the therapists' session notes (versioned).

Users and the audit log name people by their user name, never a client's real name; a client
is only ever its pseudonym. An audit entry keeps the user name as text, so it outlives the
user it names.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from station.dashboard.store.models import PSEUDONYM, Base

USER_NAME = 32
ROLES = ("admin", "therapist", "staff")
ADDRESS = 64  # an IPv6 address with its zone fits


class User(Base):
    """A person who signs in: an admin, a therapist or staff."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'therapist', 'staff')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(USER_NAME), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    """argon2id, in argon2's own encoding (``$argon2id$v=19$...``)."""
    created: Mapped[float] = mapped_column(Double)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Assignment(Base):
    """A client assigned to a therapist: the only clients whose data the therapist sees.

    No foreign key to ``clients``: a client can be assigned before the first event of theirs
    arrives."""

    __tablename__ = "assignments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    client: Mapped[str] = mapped_column(String(PSEUDONYM), primary_key=True)
    created: Mapped[float] = mapped_column(Double)


class LoginSession(Base):
    """One sign-in, kept on the server: the browser holds only a random token, whose keyed
    hash (the dashboard's secret key) is the id here."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created: Mapped[float] = mapped_column(Double)
    last_used: Mapped[float] = mapped_column(Double)
    address: Mapped[str] = mapped_column(String(ADDRESS))


class AuditEntry(Base):
    """Who did what when: sign-ins (and failed ones), clients viewed, exports, commands,
    users and assignments changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"), Index(None, "client", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Double)
    user_name: Mapped[str] = mapped_column(String(USER_NAME))
    """As typed at a failed sign-in (cut to fit), else the signed-in user's name."""
    action: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(PSEUDONYM))
    detail: Mapped[str] = mapped_column(String(500), default="")
    address: Mapped[str] = mapped_column(String(ADDRESS), default="")


class SessionNote(Base):
    """A therapist's note on a client's session; each save is a new version, none is
    overwritten."""

    __tablename__ = "session_notes"
    __table_args__ = (UniqueConstraint("session_id", "client", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    client: Mapped[str] = mapped_column(ForeignKey("clients.pseudonym"))
    author: Mapped[str] = mapped_column(String(USER_NAME))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created: Mapped[float] = mapped_column(Double)
