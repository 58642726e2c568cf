"""systemd's sd_notify protocol, without libsystemd or any other dependency.

Under systemd with ``Type=notify`` the service manager passes a datagram socket in
``$NOTIFY_SOCKET``; a process reports its state by sending newline-separated
``KEY=VALUE`` assignments to it (see sd_notify(3)). Outside systemd the variable is
unset and every function here returns ``False`` without raising, so the same code
runs unchanged from a terminal, in tests and under ``station run``.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"

_MICROSECONDS_PER_SECOND = 1_000_000


def notify(state: str) -> bool:
    """Send ``state`` (for example ``"READY=1"``) to the socket in ``$NOTIFY_SOCKET``.

    Returns True when the datagram was sent, False when not running under systemd
    or when the socket cannot be reached. Never raises: a failed status report must
    not take down the process it reports on.
    """
    address = _notify_address()
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode("utf-8"), address)
    except OSError as error:
        log.debug("could not send %r to systemd at %r: %s", state, address, error)
        return False
    return True


def ready(status: str = "") -> bool:
    """Tell systemd start-up is complete, optionally with a one-line status text.

    With ``Type=notify`` systemd considers the unit started only after this, and
    units ordered after it wait for it.
    """
    if status:
        return notify(f"READY=1\nSTATUS={_one_line(status)}")
    return notify("READY=1")


def stopping() -> bool:
    """Tell systemd the process has begun a clean shutdown."""
    return notify("STOPPING=1")


def status(text: str) -> bool:
    """Set the one-line status text shown by ``systemctl status``."""
    return notify(f"STATUS={_one_line(text)}")


def watchdog_ping() -> bool:
    """Reset systemd's watchdog timer (``WatchdogSec=`` in the unit).

    Call it only from the loop whose health it vouches for: a ping from a side
    thread would keep a hung process alive.
    """
    return notify("WATCHDOG=1")


def watchdog_period() -> float | None:
    """Seconds to wait between watchdog pings, or None when no watchdog applies.

    systemd passes the watchdog timeout in ``$WATCHDOG_USEC`` (microseconds); pinging
    at half of it leaves a whole half-period of slack for a slow iteration, as
    sd_watchdog_enabled(3) recommends. When ``$WATCHDOG_PID`` is set and names
    another process (a child that inherited our environment), the watchdog is not
    ours to feed and this returns None. Malformed or non-positive values also give
    None.
    """
    raw_timeout = os.environ.get(WATCHDOG_USEC_ENV)
    if not raw_timeout:
        return None
    raw_pid = os.environ.get(WATCHDOG_PID_ENV)
    if raw_pid:
        try:
            watched_pid = int(raw_pid)
        except ValueError:
            return None
        if watched_pid != os.getpid():
            return None
    try:
        timeout_microseconds = int(raw_timeout)
    except ValueError:
        return None
    if timeout_microseconds <= 0:
        return None
    return timeout_microseconds / 2 / _MICROSECONDS_PER_SECOND


def _notify_address() -> str | None:
    """The unix socket address from ``$NOTIFY_SOCKET``, or None if unusable."""
    raw_address = os.environ.get(NOTIFY_SOCKET_ENV, "")
    if raw_address.startswith("/"):
        return raw_address
    if raw_address.startswith("@") and len(raw_address) > 1:
        # Linux abstract namespace: systemd writes the leading NUL byte as '@'.
        return "\0" + raw_address[1:]
    # Unset, empty, or a transport this module does not speak (such as vsock).
    return None


def _one_line(text: str) -> str:
    # A newline would start a new assignment that systemd would act on (a status
    # text containing "\nREADY=1" must not report readiness).
    return " ".join(text.splitlines())
