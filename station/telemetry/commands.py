"""Commands over MQTT: validated against the JSON Schemas, relayed to the engine, acknowledged.

A dashboard publishes one JSON object to ``<base>/cmd/<command>``; the agent checks it against
``schemas/cmd/<command>.json``, sends it to the engine's control socket and publishes the
outcome on ``<base>/ack`` (docs/mqtt.md, "Commands"). A malformed, unknown, oversized or
retained command is refused with the reason and never reaches the engine.

The paho network thread only queues a message (`CommandWorker.submit`); validation and the
engine's reply (up to a few seconds while the engine makes the change durable) happen on the
worker's own thread, so neither event delivery nor the MQTT keep-alive waits for a command.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.contract.commands import AGENT, command_specs, refusal
from station.engine.control_socket import ControlError, send_command

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 2048  # a 200-character note in UTF-8 plus its keys fits many times over
# The engine answers once the change is on disk, waiting up to 5 s for that (engine.py).
ENGINE_TIMEOUT_SECONDS = 6.0
QUEUE_LENGTH = 16  # commands waiting for the engine; more are refused as busy
REMEMBERED_COMMANDS = 256  # answers kept to recognise a redelivered QoS 1 command
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def stamped(ack: dict[str, Any]) -> dict[str, Any]:
    """The ack with the time it was given (Unix time, seconds)."""
    return {**ack, "t_wall": time.time()}


def _no_constants(word: str) -> float:
    raise ValueError(f"{word} is not JSON")


# A command the agent answers itself: given the ack's id and the checked command, it returns
# the ack's keys (a refusal has "error"), or None when it will publish the ack later itself.
AgentCommand = Callable[[str | None, dict[str, Any]], dict[str, Any] | None]


class CommandRelay:
    """Turns one command message into its ack: relays valid engine commands to the engine and
    hands the agent's own (`agent_commands`, by name) to their handlers."""

    def __init__(
        self, data_dir: Path, engine_timeout: float = ENGINE_TIMEOUT_SECONDS,
        agent_commands: dict[str, AgentCommand] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.engine_timeout = engine_timeout
        self.agent_commands = dict(agent_commands or {})
        # Answers of relayed commands by (command, exact payload): a QoS 1 message that arrives
        # twice is byte for byte the same, and running it twice could, e.g., double a tag.
        self._answered: OrderedDict[tuple[str, bytes], dict[str, Any]] = OrderedDict()

    def answer(self, name: str, payload: bytes, retained: bool = False) -> dict[str, Any] | None:
        """The ack for the message `payload` published to ``cmd/<name>`` (None: an agent
        command that publishes its ack itself, later)."""
        document, problem = self._parse(payload)
        command_id = document.get("id") if isinstance(document, dict) else None
        ack: dict[str, Any] = {
            "id": command_id if isinstance(command_id, str) and ID_PATTERN.match(command_id)
            else None,
            "command": name,
            "ok": False,
        }
        if problem is None:
            problem = self._refusal(name, document, retained)
        if problem is not None:
            ack["error"] = problem
            return stamped(ack)
        if command_specs()[name].handled_by == AGENT:
            return self._answer_here(name, ack, document)
        if (name, payload) in self._answered:
            return {**self._answered[(name, payload)], "duplicate": True}
        try:
            reply = send_command(self.data_dir, {**document, "command": name},
                                 timeout=self.engine_timeout)
        except ControlError as error:
            ack["error"] = f"the engine did not take the command: {error}"
            return stamped(ack)
        ack["ok"] = reply.get("ok") is True
        for key in ("error", "problems", "state"):
            if key in reply:
                ack[key] = reply[key]
        ack = stamped(ack)
        self._answered[(name, payload)] = ack
        while len(self._answered) > REMEMBERED_COMMANDS:
            self._answered.popitem(last=False)
        return ack

    def _answer_here(
        self, name: str, ack: dict[str, Any], document: dict[str, Any]
    ) -> dict[str, Any] | None:
        handler = self.agent_commands.get(name)
        if handler is None:
            return stamped({**ack, "error": f"{name} is not available on this station"})
        answer = handler(ack["id"], document)
        if answer is None:
            return None
        return stamped({**ack, "ok": "error" not in answer, **answer})

    def _parse(self, payload: bytes) -> tuple[Any, str | None]:
        if len(payload) > MAX_COMMAND_BYTES:
            return None, (f"payload is {len(payload)} bytes; a command is at most "
                          f"{MAX_COMMAND_BYTES} bytes")
        try:
            return json.loads(payload.decode("utf-8"), parse_constant=_no_constants), None
        except UnicodeDecodeError:
            return None, "payload is not UTF-8 text; send one JSON object"
        except RecursionError:
            return None, "payload is nested too deeply; send one flat JSON object"
        except ValueError as error:  # JSONDecodeError, NaN / Infinity
            return None, f"payload is not JSON ({error}); send one JSON object"

    def _refusal(self, name: str, document: Any, retained: bool) -> str | None:
        if retained:
            return ("retained commands are refused: they would run again at every reconnect; "
                    "publish without the retain flag")
        return refusal(name, document)


class CommandWorker:
    """Answers queued command messages on its own thread, publishing each ack."""

    def __init__(self, relay: CommandRelay, publish_ack: Callable[[dict[str, Any]], None]) -> None:
        self.relay = relay
        self._publish_ack = publish_ack
        self._queue: queue.Queue[tuple[str, bytes, bool] | None] = queue.Queue(QUEUE_LENGTH)
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        self._thread.start()

    def submit(self, name: str, payload: bytes, retained: bool) -> None:
        """Queue one command message; called on paho's network thread, so it never waits."""
        try:
            self._queue.put_nowait((name, payload, retained))
        except queue.Full:
            self._publish_ack(stamped({
                "id": None, "command": name, "ok": False,
                "error": f"busy: {QUEUE_LENGTH} commands are waiting for the engine; "
                         "send it again in a moment",
            }))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            name, payload, retained = item
            try:
                answer = self.relay.answer(name, payload, retained)
            except Exception as error:  # a bad command must never stop the agent
                log.exception("command %r could not be answered", name)
                answer = stamped(
                    {"id": None, "command": name, "ok": False, "error": f"internal error: {error}"}
                )
            if answer is None:
                continue  # the agent publishes this command's ack itself when it is done
            ack = answer
            if ack["ok"]:
                log.info("command %s (id %s) done", name, ack["id"])
            else:
                log.warning("command %s (id %s) refused: %.200s", name, ack["id"], ack["error"])
            try:
                self._publish_ack(ack)
            except Exception:
                log.exception("the ack of command %r could not be published", name)

    def stop(self, timeout: float = ENGINE_TIMEOUT_SECONDS + 1) -> None:
        """Answer what is queued (within `timeout` seconds), then end the thread."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
