"""The MQTT topic contract: every topic the station publishes, in one place.

All topics live under ``<topic_root>/<site>/<station>/`` (``topic_root`` defaults to
``sensory/v1``; the version is part of the root so a changed contract gets a new root).
"""

from __future__ import annotations

from dataclasses import dataclass

ONLINE = "online"
OFFLINE = "offline"


@dataclass(frozen=True)
class Topics:
    root: str
    site: str
    station: str

    @property
    def base(self) -> str:
        return f"{self.root}/{self.site}/{self.station}"

    @property
    def status(self) -> str:
        """Retained ``online`` / ``offline`` (the agent's last will), QoS 1."""
        return f"{self.base}/status"

    @property
    def events(self) -> str:
        """Every recorded event as JSON, QoS 1, not retained; ``id`` is unique per event."""
        return f"{self.base}/events"

    @property
    def counts(self) -> str:
        """Retained JSON: accepted presses per input in the current session."""
        return f"{self.base}/session/counts"

    @property
    def state(self) -> str:
        """Retained JSON: client, sound set, volume and session as the events say they are."""
        return f"{self.base}/state"

    @property
    def choices(self) -> str:
        """Retained JSON: the clients (with their volume ceilings) and sound sets this station
        can switch to, from its config files."""
        return f"{self.base}/choices"

    @property
    def aggregates(self) -> str:
        """Retained JSON every telemetry.aggregate_seconds: the running session's tallies."""
        return f"{self.base}/session/aggregates"

    @property
    def summary(self) -> str:
        """Retained JSON, QoS 1: the summary of the session that ended last."""
        return f"{self.base}/session/summary"

    @property
    def health(self) -> str:
        """Retained JSON: backlog, disk space; with ``status``, how the station is doing."""
        return f"{self.base}/status/health"

    def input_presses(self, name: str) -> str:
        """Retained plain integer: accepted presses of one input in the current session."""
        return f"{self.base}/inputs/{name}/presses"

    @property
    def commands(self) -> str:
        """Subscription filter for the commands: one topic per command, ``cmd/<command>``."""
        return f"{self.base}/cmd/+"

    def command(self, name: str) -> str:
        """Where a dashboard publishes command `name` (a JSON object with an ``id``)."""
        return f"{self.base}/cmd/{name}"

    @property
    def ack(self) -> str:
        """The answer to every command: ``id``, ``ok`` and, when refused, ``error``. QoS 1."""
        return f"{self.base}/ack"

    def is_command(self, topic: str) -> bool:
        """Whether `topic` is one of this station's ``cmd/<command>`` topics."""
        return topic.startswith(f"{self.base}/cmd/")

    def command_name(self, topic: str) -> str:
        """The command a ``cmd/<command>`` topic names."""
        return topic.removeprefix(f"{self.base}/cmd/")
