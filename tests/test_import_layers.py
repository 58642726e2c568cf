"""Imports run downward: the low, pure packages import nothing from the packages above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STATION = Path(__file__).resolve().parents[1] / "station"

# Each low package and the station modules it may import (itself included).
ALLOWED = {
    "contract": ("station.contract",),
    "music": ("station.music",),
    "config": ("station.config", "station.music", "station.errors"),
}


def station_imports(module: Path) -> list[str]:
    """Every ``station...`` module that `module` imports, at any depth of the file."""
    names = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [name for name in names if name == "station" or name.startswith("station.")]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_low_package_imports_only_what_lies_below_it(package: str) -> None:
    allowed = ALLOWED[package]
    upward = [
        f"{module.relative_to(STATION.parent)} imports {name}"
        for module in sorted((STATION / package).rglob("*.py"))
        for name in station_imports(module)
        if not any(name == low or name.startswith(f"{low}.") for low in allowed)
    ]
    assert upward == []
