"""Problems found in config files, kept as data until they are shown.

A `Problem` says which file, where in it, and what is wrong. It becomes its one line of text,
``file: section.key: message``, only at the edge: the message of a `ConfigError`, or the CLI's
``station config check``. pydantic's validation errors are turned into problems here, naming
the bad value and the allowed ones, with "did you mean 'x'?" for near misses.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from station.music.catalog import DRUM_PIECES

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing to fix in the configuration.

    file: the file it is in; None for a command-line ``--set`` override.
    where: the table and key (``inputs[big-red].pin``), a line and column, or the override;
    "" when the file as a whole is meant.
    message: what is wrong, with the value found and what is allowed.
    """

    file: Path | None
    where: str
    message: str

    def __str__(self) -> str:
        parts = [str(self.file)] if self.file is not None else []
        if self.where:
            parts.append(self.where)
        return ": ".join([*parts, self.message])


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest of `choices`, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def unknown(
    file: Path, where: str, what: str, value: str, allowed: Sequence[str], hint: str = ""
) -> Problem:
    """`value` names no `what` (an instrument, a sample...) of those `allowed`."""
    return Problem(
        file,
        where,
        f"no {what} {value!r}; allowed: {', '.join(allowed) or 'none'}"
        f"{did_you_mean(value, allowed)}{hint}",
    )


def validate(
    file: Path, model: type[M], data: dict[str, Any], problems: list[Problem]
) -> M | None:
    """`data` as a `model`, or None with every validation error added to `problems`."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems.extend(_validation_problems(file, model, data, error))
        return None


def _validation_problems(
    file: Path, model: type[BaseModel], data: dict[str, Any], error: ValidationError
) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = item["loc"]
        where = _describe(loc, data)
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1])
            message = f"unknown key{did_you_mean(key, allowed)}"
            if allowed:
                message += f" (allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "literal_error":
            expected = re.findall(r"'([^']*)'|(\d+)", item.get("ctx", {}).get("expected", ""))
            choices = [a or b for a, b in expected]
            message = f"{item['input']!r} is not allowed; allowed: {', '.join(choices)}"
            message += did_you_mean(str(item["input"]), choices)
        elif kind == "string_pattern_mismatch" and loc[-1] in ("pseudonym", "client"):
            message = (
                f"{item['input']!r} is not a client pseudonym; use a code like 'C-7F3K' "
                "(capital letters and digits around one hyphen), never a real name"
            )
        elif kind == "string_pattern_mismatch" and loc[-1] in DRUM_PIECES:
            message = (
                f"{item['input']!r} is not a rhythm line; use 'x' (hit), 'o' (soft hit) and "
                "'.' (rest), at most 64 steps"
            )
        elif kind == "string_pattern_mismatch":
            message = (
                f"{item['input']!r} is not allowed; use lower-case letters, digits and '-' "
                f"(pattern {item.get('ctx', {}).get('pattern')})"
            )
        else:
            message = f"{item['msg']}; got {item['input']!r}"
        problems.append(Problem(file, where or "(top level)", message))
    return problems


def _describe(loc: Sequence[int | str], data: Any) -> str:
    """``inputs[big-red].pin`` for a pydantic location, naming list items by their name."""
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and isinstance(
                node[part], dict
            ) else None
            text += f"[{name}]" if isinstance(name, str) else f"[#{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return text


def _fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys allowed in the table at `loc` (for did-you-mean suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        annotation = info.annotation
        while get_origin(annotation) is not None:
            args = [a for a in get_args(annotation) if a is not type(None)]
            annotation = args[0] if args else None
        current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
