"""The engine's local control channel: JSON commands over a Unix datagram socket.

The telemetry agent (MQTT commands) and local tools send one JSON object per datagram to
``<data_dir>/engine.sock`` and get one JSON reply back. It runs on its own thread, never on
the press path. The socket file lives in the station's data directory, so only the station's
user (and group) can command the engine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.errors import StationError

log = logging.getLogger(__name__)

SOCKET_NAME = "engine.sock"
MAX_DATAGRAM = 64 * 1024


class ControlError(StationError, ValueError):
    """A control command was malformed, unknown or not possible now."""


class ControlServer:
    """Receives commands, calls `handle(command) -> reply`, and answers the sender."""

    def __init__(self, data_dir: Path, handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = data_dir / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by an engine that was killed
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        os.chmod(self.path, 0o660)
        self._handle = handle
        self._thread = threading.Thread(target=self._serve, name="engine-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, sender = self._socket.recvfrom(MAX_DATAGRAM)
            except OSError:
                return  # closed
            reply = self._answer(data)
            if sender:
                try:
                    self._socket.sendto(json.dumps(reply).encode(), sender)
                except OSError as error:
                    log.warning("could not answer a control command: %s", error)

    def _answer(self, data: bytes) -> dict[str, Any]:
        try:
            command = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return {"ok": False, "error": f"not JSON: {error}"}
        if not isinstance(command, dict):
            return {"ok": False, "error": "a command is a JSON object"}
        try:
            reply = self._handle(command)
        except ControlError as error:
            reply = {"ok": False, "error": str(error)}
        except Exception as error:  # a failing command must never stop the engine
            log.exception("control command %r failed", command.get("command"))
            reply = {"ok": False, "error": f"internal error: {error}"}
        if "id" in command:
            reply["id"] = command["id"]
        return reply

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._thread.join(timeout=2)


def send_command(data_dir: Path, command: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one command to the engine of `data_dir` and return its reply.

    A command without an ``id`` gets one (every command schema requires it). Raises
    ControlError when no engine answers within `timeout` seconds.
    """
    generated_id = isinstance(command, dict) and "id" not in command
    if generated_id:
        command = {**command, "id": f"local-{uuid.uuid4().hex[:12]}"}
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        # An abstract address (Linux) for the reply: nothing to clean up afterwards.
        client.bind(f"\0sensory-station-control-{uuid.uuid4().hex}")
        client.settimeout(timeout)
        try:
            client.sendto(json.dumps(command).encode(), str(data_dir / SOCKET_NAME))
            data = client.recv(MAX_DATAGRAM)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(f"no engine is running for {data_dir}") from None
        except TimeoutError:
            raise ControlError(f"the engine for {data_dir} did not answer in {timeout} s") from None
    reply: dict[str, Any] = json.loads(data)
    if generated_id:
        reply.pop("id", None)  # the sender gave none: the reply is as it would have been
    return reply
