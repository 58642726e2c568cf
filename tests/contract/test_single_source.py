"""Every contract has one definition, and every place that names it derives from it: the
command schemas, the engine's command table, `station control`, docs/mqtt.md, the event
types and `event.json`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from station.cli import build_parser
from station.contract import schemas
from station.contract.commands import (
    AGENT,
    ENGINE,
    command_specs,
    engine_commands,
    refusal,
)
from station.contract.events import EventType
from station.engine.commands import HANDLERS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mqtt.md"


def _docs_section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n") if f"\n## {title}\n" in text else text.index(
        f"\n### `{title}`\n")
    following = re.search(r"\n##+ ", text[start + 1:])
    return text[start: start + 1 + following.start()] if following else text[start:]


def _table_keys(section: str, pattern: str) -> set[str]:
    return set(re.findall(rf"^\| {pattern} \|", section, flags=re.M))


def test_every_command_schema_has_a_handler_and_every_handler_a_schema() -> None:
    # The agent's own commands: tests/telemetry/test_replay.py ties them to the agent.
    assert set(HANDLERS) == set(engine_commands())
    assert {spec.handled_by for spec in command_specs().values()} == {ENGINE, AGENT}


def test_every_command_has_its_row_in_docs_mqtt() -> None:
    rows = _table_keys(_docs_section("Commands"), r"`cmd/([a-z_]+)`")
    assert rows == set(schemas.command_names())


def test_station_control_offers_every_command_with_its_arguments() -> None:
    parser = build_parser()
    control = next(
        action.choices["control"] for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    actions = next(
        action for action in control._actions if isinstance(action, argparse._SubParsersAction)
    )
    specs = {spec.cli_action: spec for spec in engine_commands().values()}
    assert set(actions.choices) == set(specs)
    for name, sub in actions.choices.items():
        offered = {action.dest for action in sub._actions} - {"help", "config", "overrides"}
        assert offered == {argument.name for argument in specs[name].arguments}, name


def test_a_refusal_names_the_key_and_what_is_allowed() -> None:
    assert refusal("tag_observation", {"id": "a", "note": "two\nlines"}) == (
        "note: 'two\\nlines' must not contain control characters (such as new lines)"
    )
    assert refusal("set_volume", {"id": "a", "volume": float("nan")}) == "numbers must be finite"
    assert refusal("dance", {"id": "a"}).startswith("unknown command 'dance'; commands: ")
    assert refusal("status", {"id": "a"}) is None


def test_event_types_are_those_of_the_event_schema_and_of_docs_mqtt() -> None:
    assert set(schemas.schema("event")["properties"]["type"]["enum"]) == set(EventType)
    rows = _table_keys(_docs_section("events"), r"`([a-z_]+)`") - {"type"}
    assert rows == set(EventType)


def test_the_observation_tags_of_the_event_are_those_of_the_command() -> None:
    command_tags = schemas.schema("cmd/tag_observation")["properties"]["tag"]["enum"]
    observation = next(
        rule["then"] for rule in schemas.schema("event")["allOf"]
        if rule["if"]["properties"]["type"].get("const") == "observation"
    )
    assert observation["properties"]["detail"]["properties"]["tag"]["enum"] == command_tags


def test_every_key_of_the_health_topic_is_documented_in_docs_mqtt() -> None:
    section = _docs_section("status/health")
    missing = [key for key in schemas.schema("health")["properties"] if f'"{key}"' not in section
               and f"`{key}`" not in section]
    assert missing == []


def test_the_station_status_details_are_documented_in_docs_mqtt() -> None:
    station_status = next(
        rule["then"] for rule in schemas.schema("event")["allOf"]
        if rule["if"]["properties"]["type"].get("const") == "station_status"
    )
    row = next(line for line in _docs_section("events").splitlines()
               if line.startswith("| `station_status` |"))
    details = station_status["properties"]["detail"]["properties"]
    for key, rule in details.items():
        assert f"`{key}`" in row or f"`detail.{key}`" in row, key
        for value in rule.get("enum", []):
            assert f"`{value}`" in row, (key, value)


def test_every_published_topic_of_docs_mqtt_has_its_schema_and_every_schema_its_row() -> None:
    section = _docs_section("What the station publishes")
    named = set(re.findall(r"^\| `<base>/[^`]+` \| \d \| \w+ \| `([a-z_]+)\.json` \|", section,
                           flags=re.M))
    folder = Path(schemas.__file__).parent
    published = {path.stem for path in folder.glob("*.json")
                 if not path.stem.startswith("homeassistant_")}
    assert named == published
    for name in named:
        assert schemas.schema(name)["$id"] == f"sensory/v1/{name}.json"
