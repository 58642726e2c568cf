"""station.sdnotify against a real unix datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import sdnotify

RECEIVE_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket bound in tmp_path, named in $NOTIFY_SOCKET as systemd does."""
    socket_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(socket_path))
        receiver.settimeout(RECEIVE_TIMEOUT_SECONDS)
        monkeypatch.setenv(sdnotify.NOTIFY_SOCKET_ENV, str(socket_path))
        yield receiver


@pytest.fixture
def abstract_notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A socket in Linux's abstract namespace, announced with the '@' systemd uses."""
    name = f"sensory-station-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(RECEIVE_TIMEOUT_SECONDS)
        monkeypatch.setenv(sdnotify.NOTIFY_SOCKET_ENV, "@" + name)
        yield receiver


def test_ready_with_status_sends_both_assignments(notify_socket: socket.socket) -> None:
    assert sdnotify.ready("playing sound set 'ocean'") is True
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=playing sound set 'ocean'"


def test_ready_without_status_sends_only_ready(notify_socket: socket.socket) -> None:
    assert sdnotify.ready() is True
    assert notify_socket.recv(4096) == b"READY=1"


def test_stopping(notify_socket: socket.socket) -> None:
    assert sdnotify.stopping() is True
    assert notify_socket.recv(4096) == b"STOPPING=1"


def test_status(notify_socket: socket.socket) -> None:
    assert sdnotify.status("broker unreachable, 12 events queued") is True
    assert notify_socket.recv(4096) == b"STATUS=broker unreachable, 12 events queued"


def test_status_is_utf8(notify_socket: socket.socket) -> None:
    assert sdnotify.status("Klangwelt „Meer“") is True
    assert notify_socket.recv(4096) == "STATUS=Klangwelt „Meer“".encode()


def test_status_newline_cannot_inject_an_assignment(notify_socket: socket.socket) -> None:
    assert sdnotify.status("bad config\nREADY=1") is True
    assert notify_socket.recv(4096) == b"STATUS=bad config READY=1"


def test_watchdog_ping(notify_socket: socket.socket) -> None:
    assert sdnotify.watchdog_ping() is True
    assert notify_socket.recv(4096) == b"WATCHDOG=1"


def test_each_call_is_one_datagram(notify_socket: socket.socket) -> None:
    sdnotify.ready()
    sdnotify.watchdog_ping()
    assert notify_socket.recv(4096) == b"READY=1"
    assert notify_socket.recv(4096) == b"WATCHDOG=1"


def test_abstract_socket(abstract_notify_socket: socket.socket) -> None:
    assert sdnotify.ready("up") is True
    assert abstract_notify_socket.recv(4096) == b"READY=1\nSTATUS=up"


def test_not_under_systemd_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sdnotify.NOTIFY_SOCKET_ENV, raising=False)
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.ready("x") is False
    assert sdnotify.watchdog_ping() is False


def test_empty_socket_variable_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sdnotify.NOTIFY_SOCKET_ENV, "")
    assert sdnotify.notify("READY=1") is False


def test_unsupported_address_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sdnotify.NOTIFY_SOCKET_ENV, "vsock:2:1234")
    assert sdnotify.notify("READY=1") is False


def test_missing_socket_returns_false_without_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sdnotify.NOTIFY_SOCKET_ENV, str(tmp_path / "gone.sock"))
    assert sdnotify.notify("READY=1") is False


@pytest.fixture
def clean_watchdog_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(sdnotify.WATCHDOG_USEC_ENV, raising=False)
    monkeypatch.delenv(sdnotify.WATCHDOG_PID_ENV, raising=False)
    return monkeypatch


def test_watchdog_period_is_none_without_watchdog(clean_watchdog_env: pytest.MonkeyPatch) -> None:
    assert sdnotify.watchdog_period() is None


def test_watchdog_period_is_half_the_timeout(clean_watchdog_env: pytest.MonkeyPatch) -> None:
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_USEC_ENV, "10000000")
    assert sdnotify.watchdog_period() == 5.0


def test_watchdog_period_keeps_sub_second_precision(
    clean_watchdog_env: pytest.MonkeyPatch,
) -> None:
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_USEC_ENV, "1500000")
    assert sdnotify.watchdog_period() == 0.75


def test_watchdog_period_for_our_pid(clean_watchdog_env: pytest.MonkeyPatch) -> None:
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_USEC_ENV, "10000000")
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_PID_ENV, str(os.getpid()))
    assert sdnotify.watchdog_period() == 5.0


def test_watchdog_period_for_another_pid_is_none(clean_watchdog_env: pytest.MonkeyPatch) -> None:
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_USEC_ENV, "10000000")
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_PID_ENV, str(os.getpid() + 1))
    assert sdnotify.watchdog_period() is None


@pytest.mark.parametrize("bad_timeout", ["0", "-5", "ten", "1.5"])
def test_watchdog_period_ignores_bad_timeout(
    clean_watchdog_env: pytest.MonkeyPatch, bad_timeout: str
) -> None:
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_USEC_ENV, bad_timeout)
    assert sdnotify.watchdog_period() is None


def test_watchdog_period_ignores_bad_pid(clean_watchdog_env: pytest.MonkeyPatch) -> None:
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_USEC_ENV, "10000000")
    clean_watchdog_env.setenv(sdnotify.WATCHDOG_PID_ENV, "not-a-pid")
    assert sdnotify.watchdog_period() is None
