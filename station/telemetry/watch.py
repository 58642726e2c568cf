"""`station watch`: a live terminal view of one or all stations, read from the broker.

It subscribes to the retained topics every station keeps up to date (status, state, session
counts and aggregates, health), so it shows the whole picture as soon as it connects, and
redraws as they change. It only reads: it never sends a command.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from station.config import LoadedStation

# The retained topics the view needs, relative to a station's base topic.
WATCHED = ("status", "state", "session/counts", "session/aggregates", "status/health")


@dataclass
class StationView:
    """What the broker last said about one station."""

    site: str
    station: str
    status: str = "?"
    state: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    aggregates: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)


class StationBoard:
    """Every station seen under the topic root, kept current from MQTT messages."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.stations: dict[tuple[str, str], StationView] = {}
        self.changed = threading.Condition()

    def subscriptions(self, site: str = "+", station: str = "+") -> list[str]:
        return [f"{self.root}/{site}/{station}/{relative}" for relative in WATCHED]

    def update(self, topic: str, payload: bytes) -> bool:
        """Take one message in; False if it is not one the view understands."""
        if not topic.startswith(self.root + "/"):
            return False
        parts = topic.removeprefix(self.root + "/").split("/", 2)
        if len(parts) != 3 or parts[2] not in WATCHED:
            return False
        site, station, relative = parts
        view = self.stations.setdefault((site, station), StationView(site, station))
        try:
            if relative == "status":
                view.status = payload.decode("utf-8", "replace")
            elif relative == "state":
                view.state = json.loads(payload)
            elif relative == "session/counts":
                view.counts = dict(json.loads(payload).get("counts", {}))
            elif relative == "session/aggregates":
                view.aggregates = json.loads(payload)
            else:
                view.health = json.loads(payload)
        except (ValueError, AttributeError):
            return False  # a malformed retained message must not stop the view
        with self.changed:
            self.changed.notify_all()
        return True

    def table(self) -> Table:
        table = Table(title="Sensory stations", expand=False)
        for heading in ("station", "status", "client", "sound set", "volume", "session",
                        "presses per input", "per min", "rejected", "backlog"):
            table.add_column(heading)
        for (site, station), view in sorted(self.stations.items()):
            status_style = "green" if view.status == "online" else "red"
            rejected = view.aggregates.get("rejected", {})
            volume = view.state.get("volume")
            table.add_row(
                f"{site}/{station}",
                f"[{status_style}]{view.status}[/]",
                str(view.state.get("client", "")),
                str(view.state.get("sound_set", "")),
                f"{volume * 100:.0f} %" if isinstance(volume, int | float) else "",
                str(view.state.get("session", "")) or "none",
                ", ".join(f"{name} {count}" for name, count in sorted(view.counts.items())),
                str(view.aggregates.get("presses_per_minute", "")),
                ", ".join(f"{reason} {count}" for reason, count in sorted(rejected.items()))
                or ("0" if view.aggregates else ""),
                str(view.health.get("backlog", "")),
            )
        if not self.stations:
            table.caption = "no station has published yet"
        return table


def connect(board: StationBoard, station: LoadedStation, topics: list[str],
            username: str = "", password: str = "") -> mqtt.Client:
    """A read-only client feeding `board`, with the station file's broker and TLS settings
    (and its login, unless `username` is given: a station's own login may read only its
    commands, so watching usually needs the dashboard's)."""
    mqtt_config = station.config.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if mqtt_config.uses_tls:
        client.tls_set(
            ca_certs=str(station.resolve(mqtt_config.ca_file)) if mqtt_config.ca_file else None)
    if username:
        client.username_pw_set(username, password or None)
    elif mqtt_config.username:
        client.username_pw_set(mqtt_config.username,
                               mqtt_config.password.get_secret_value() or None)
    client.on_connect = lambda c, *_: c.subscribe([(topic, 1) for topic in topics])

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        board.update(message.topic, bytes(message.payload))

    client.on_message = on_message
    client.connect_async(mqtt_config.host or "127.0.0.1", mqtt_config.port)
    client.loop_start()
    return client


def run_watch(board: StationBoard, client: mqtt.Client, console: Console,
              once_after: float | None, stop: threading.Event) -> int:
    """Print the table once after `once_after` seconds, or redraw it live until `stop`."""
    from rich.live import Live

    try:
        if once_after is not None:
            stop.wait(once_after)
            console.print(board.table())
            return 0
        with Live(board.table(), console=console, refresh_per_second=2) as live:
            while not stop.is_set():
                with board.changed:
                    board.changed.wait(1.0)
                live.update(board.table())
        return 0
    finally:
        client.disconnect()
        client.loop_stop()
