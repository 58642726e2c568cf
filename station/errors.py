"""The station's exceptions: one base class, each subclass also a matching built-in."""

from __future__ import annotations

from collections.abc import Iterable


class StationError(Exception):
    """Base class of every error the station raises on purpose."""


class ConfigError(StationError, ValueError):
    """One or more configuration files are missing, malformed or inconsistent."""

    def __init__(self, problems: Iterable[object]) -> None:
        # Each problem (a `station.config.Problem`, or a line of text) is shown as one line.
        self.problems = [str(problem) for problem in problems]
        super().__init__("\n".join(self.problems))


class InputError(StationError, ValueError):
    """A simulated or hardware input was named or driven wrongly."""


class PinFactoryError(StationError, RuntimeError):
    """The configured GPIO pin factory cannot be loaded on this machine."""


class AudioError(StationError, RuntimeError):
    """No audio backend could be started, or a sound parameter was refused."""
