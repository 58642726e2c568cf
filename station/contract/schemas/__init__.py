"""JSON Schemas of the MQTT contract: every command the station takes and every payload it
publishes (docs/mqtt.md). They ship with the package so that the station validates against
the same files that dashboards and tests read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

PACKAGE = "station.contract.schemas"


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema `name` ("cmd/set_volume", "event", ...) as a dict."""
    text = resources.files(PACKAGE).joinpath(f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def validator(name: str) -> Draft202012Validator:
    checked = schema(name)
    Draft202012Validator.check_schema(checked)
    return Draft202012Validator(checked)


def command_names() -> list[str]:
    """Every command the station takes over MQTT, one schema file each."""
    folder = resources.files(PACKAGE).joinpath("cmd")
    return sorted(
        item.name.removesuffix(".json") for item in folder.iterdir() if item.name.endswith(".json")
    )


def describe(error: ValidationError) -> str:
    """One error as ``key: what is wrong``, using the schema's own wording where it has one."""
    where = ".".join(str(part) for part in error.absolute_path) or "payload"
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if error.validator == "pattern" and custom:
        return f"{where}: {error.instance!r} {custom}"
    if error.validator == "anyOf" and not error.absolute_path:
        options = error.validator_value if isinstance(error.validator_value, list) else []
        needed = [
            option["required"][0]
            for option in options
            if isinstance(option, dict) and option.get("required")
        ]
        if needed:
            return f"payload: needs at least one of {', '.join(needed)}"
    return f"{where}: {error.message}"


@cache
def _quick_check(name: str) -> Callable[[Any], bool] | None:
    """jsonschema-rs's check of schema `name` (valid or not, no more), where it is installed.

    It is about a hundred times quicker than jsonschema's, which the dashboard's ingest of
    thousands of events a second needs; it has no wheel for 32-bit ARM, where jsonschema alone
    checks. jsonschema still words every problem, so the messages are the same either way.
    """
    try:
        import jsonschema_rs
    except ImportError:
        return None
    checker: Callable[[Any], bool] = jsonschema_rs.validator_for(schema(name)).is_valid
    return checker


def problems(name: str, document: Any, limit: int = 5) -> list[str]:
    """What is wrong with `document` according to schema `name` (empty when it is valid)."""
    quick = _quick_check(name)
    try:
        if quick is not None and quick(document):
            return []
    except ValueError:  # a string it cannot take (a lone surrogate): jsonschema judges it
        pass
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [describe(error) for error in errors[:limit]]


# A site, station, input or sound-set name as the contract spells it (`room-1`).
NAME_PATTERN: str = schema("event")["properties"]["station"]["pattern"]
