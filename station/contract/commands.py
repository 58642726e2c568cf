"""The commands a station takes, read from their JSON Schemas, the one definition.

Each file ``schemas/cmd/<name>.json`` defines command `name`: its arguments, their types,
limits and wording. The engine's control socket and the agent's MQTT relay refuse a command
with the same words (`refusal`), `station control` builds its actions and help from
`command_specs`, and a test ties every command to a handler in the engine and a row in
docs/mqtt.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from station.contract import schemas

ID_KEY = "id"  # every command carries one; it comes back in the reply or ack
ENGINE = "engine"  # commands the engine answers (the default)
AGENT = "agent"  # commands the telemetry agent answers itself, e.g. replay


@dataclass(frozen=True)
class CommandArgument:
    """One key of a command besides its `id`."""

    name: str
    kind: str  # the JSON type: "string", "number", or "" for a list of choices
    description: str
    required: bool
    choices: tuple[str, ...]  # the allowed values, when the schema lists them


@dataclass(frozen=True)
class CommandSpec:
    """One command: its name, what it does and its arguments, in the schema's order."""

    name: str
    title: str
    arguments: tuple[CommandArgument, ...]
    cli_action: str  # how `station control` names it: the schema's x-cli-action, or the name
    handled_by: str  # who answers it: "engine" (through its control socket) or "agent"

    @property
    def value(self) -> CommandArgument | None:
        """The argument `station control` takes as its positional VALUE: the first one."""
        return self.arguments[0] if self.arguments else None

    @property
    def options(self) -> tuple[CommandArgument, ...]:
        """The arguments `station control` takes as ``--name`` options: the others."""
        return self.arguments[1:]


def _spec(name: str) -> CommandSpec:
    document = schemas.schema(f"cmd/{name}")
    required = set(document.get("required", ()))
    arguments = tuple(
        CommandArgument(
            name=key,
            kind=str(prop.get("type", "")),
            description=str(prop.get("description", "")),
            required=key in required,
            choices=tuple(str(choice) for choice in prop.get("enum", ())),
        )
        for key, prop in document["properties"].items()
        if key != ID_KEY
    )
    return CommandSpec(
        name=name,
        title=str(document["title"]),
        arguments=arguments,
        cli_action=str(document.get("x-cli-action", name.replace("_", "-"))),
        handled_by=str(document.get("x-handled-by", ENGINE)),
    )


@cache
def command_specs() -> dict[str, CommandSpec]:
    """Every command by name, in name order."""
    return {name: _spec(name) for name in schemas.command_names()}


def engine_commands() -> dict[str, CommandSpec]:
    """The commands the engine answers: those `station control` offers."""
    return {name: spec for name, spec in command_specs().items() if spec.handled_by == ENGINE}


def refusal(name: object, document: Any) -> str | None:
    """Why command `name` with the keys `document` must be refused, or None when it is valid.

    `document` is the command's JSON object without the transport's own keys (the control
    socket's ``command``); the words are the same on the socket and over MQTT.
    """
    specs = command_specs()
    if not isinstance(name, str) or name not in specs:
        return f"unknown command {name!r}; commands: {', '.join(specs)}"
    if not isinstance(document, dict):
        return "a command is a JSON object, e.g. {\"id\": \"a1\"}"
    if any(isinstance(value, float) and not math.isfinite(value)
           for value in document.values()):
        return "numbers must be finite"
    try:
        found = schemas.problems(f"cmd/{name}", document)
    except RecursionError:
        return "payload is nested too deeply; send one flat JSON object"
    return "; ".join(found) if found else None


def replay_max_events() -> int:
    """The most seqs one `cmd/replay` may ask for (its schema's ``x-max-events``)."""
    return int(schemas.schema("cmd/replay")["x-max-events"])
