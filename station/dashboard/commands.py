"""Commands from the dashboard: checked against the contract, sent to one station, tracked by
id until its ack says done or refused, or until it is too late to wait.

A command is published once (QoS 1, not retained, with an MQTT 5 message expiry of
`answer_within` seconds) to ``<base>/cmd/<command>`` with a fresh id, only after its keys
passed the command's JSON Schema and only to a station whose retained ``status`` the store
holds as ``online``: a command to an offline station is refused at once, never queued (a
``start_session`` must not run an hour late). The desk also keeps what the console needs from
the broker: each station's ``choices`` (the clients and sound sets it can switch to) and the
engine's state from the last ack (recording, audio).

Threads: paho's network thread only queues what arrives (`_on_message`) and sets or clears
`connected`. The desk's own thread (`run`) owns the commands, choices and engine states; it
publishes, applies acks, gives up on the unanswered and after each change replaces `view`, an
immutable snapshot that the web server's threads read.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from station.contract import schemas
from station.contract.commands import ENGINE, command_specs, refusal
from station.contract.topics import ONLINE, Topics
from station.dashboard.ingest import IngestSettings
from station.dashboard.store import Store
from station.dashboard.store.records import StationKey
from station.errors import StationError

log = logging.getLogger(__name__)

ANSWER_WITHIN_SECONDS = 10.0  # the engine answers within 6 s (the agent's relay time-out)
KEPT_PER_STATION = 20  # commands remembered per station, for the console
MAX_CHOICES_BYTES = 64 * 1024
MAX_ACK_BYTES = 16 * 1024

SENT, DONE, REFUSED, UNANSWERED, NOT_SENT = "sent", "done", "refused", "unanswered", "not_sent"


class CommandRefused(StationError, ValueError):
    """A command the dashboard does not send; the message says why and what to do."""


@dataclass(frozen=True)
class TrackedCommand:
    """One command the dashboard sent, and what became of it."""

    id: str
    station: StationKey
    command: str
    arguments: tuple[tuple[str, Any], ...]
    user: str
    sent_at: float
    """Unix time, seconds."""
    outcome: str = SENT
    """``sent`` (no answer yet), ``done``, ``refused``, ``unanswered``, or ``not_sent`` (the
    broker was lost between the check and the publish)."""
    error: str = ""
    """The station's words when it refused."""

    def words(self, answer_within: float = ANSWER_WITHIN_SECONDS) -> str:
        """What became of it, for the person who pressed the button."""
        if self.outcome == DONE:
            return "Done."
        if self.outcome == REFUSED:
            # The station names the command its words are about ("cancel_cue: no cue is
            # waiting"): the person knows which button they pressed.
            return f"The station refused: {self.error.removeprefix(f'{self.command}: ')}"
        if self.outcome == NOT_SENT:
            return ("Not sent: the connection to the broker was lost just then. Try again "
                    "when the banner is gone.")
        if self.outcome == UNANSWERED:
            return (f"The station did not answer within {answer_within:.0f} s. It may not "
                    "have done it: check the state shown before trying again.")
        return "Sent, waiting for the station…"


@dataclass(frozen=True)
class DeskView:
    """What the desk knows, as one immutable snapshot."""

    commands: Mapping[StationKey, tuple[TrackedCommand, ...]] = field(default_factory=dict)
    """Newest first, per station."""
    choices: Mapping[StationKey, dict[str, Any]] = field(default_factory=dict)
    engine_states: Mapping[StationKey, dict[str, Any]] = field(default_factory=dict)
    """The ``state`` of each station's last ack (with ``recording`` and ``audio``)."""

    def command(self, command_id: str) -> TrackedCommand | None:
        for listed in self.commands.values():
            for tracked in listed:
                if tracked.id == command_id:
                    return tracked
        return None


def station_of(topic: str, root: str) -> StationKey | None:
    """The station of ``<root>/<site>/<station>/...``."""
    parts = topic.removeprefix(f"{root}/").split("/")
    return StationKey(parts[0], parts[1]) if len(parts) >= 3 else None


def checked_payload(name: str, arguments: Mapping[str, Any], command_id: str) -> dict[str, Any]:
    """The command's JSON object, or CommandRefused naming every key that is wrong."""
    spec = command_specs().get(name)
    if spec is None or spec.handled_by != ENGINE:
        raise CommandRefused(f"The dashboard sends no command {name!r}; commands: "
                             + ", ".join(n for n, s in command_specs().items()
                                         if s.handled_by == ENGINE))
    payload = {"id": command_id, **arguments}
    # The station's own check (schema, finite numbers), in the station's words.
    problem = refusal(name, payload)
    if problem is not None:
        raise CommandRefused(f"{problem}. Nothing was sent.")
    return payload


class CommandDesk:
    """Sends people's commands to stations and follows each until it is answered."""

    def __init__(self, store: Store, settings: IngestSettings,
                 on_change: Callable[[], None] = lambda: None,
                 answer_within: float = ANSWER_WITHIN_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.on_change = on_change
        self.answer_within = answer_within
        self.clock = clock
        self.connected = threading.Event()
        self.view = DeskView()
        self._inbox: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._commands: OrderedDict[str, TrackedCommand] = OrderedDict()  # by id, oldest first
        self._choices: dict[StationKey, dict[str, Any]] = {}
        self._engine_states: dict[StationKey, dict[str, Any]] = {}
        self._thread: threading.Thread | None = None
        self._version5 = settings.protocol == "5"
        # A clean session of its own: a command must never wait at the broker for a station
        # (or for the dashboard) to come back.
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{settings.client_id}-commands",
            protocol=mqtt.MQTTv5 if self._version5 else mqtt.MQTTv311)
        settings.prepare(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_message = lambda _client, _userdata, message: self._inbox.put(
            ("message", (message.topic, bytes(message.payload))))

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the MQTT broker refused the dashboard's command client (%s)", reason)
            return
        root = self.settings.topic_root
        client.subscribe([(f"{root}/+/+/ack", 1), (f"{root}/+/+/choices", 1)])
        self.connected.set()

    # -- any thread ----------------------------------------------------------------------------
    def send(self, user: str, station: StationKey, name: str,
             arguments: Mapping[str, Any]) -> TrackedCommand:
        """Check and send command `name` to `station`; the command as tracked (``sent``).

        Raises CommandRefused, with nothing sent, when a key breaks the command's schema,
        when the station is not online, or when the broker cannot be reached.
        """
        command_id = f"dash-{uuid.uuid4().hex[:16]}"
        payload = checked_payload(name, arguments, command_id)
        view = next((found for found in self.store.stations() if found.station == station),
                    None)
        if view is None:
            raise CommandRefused(f"No station {station.name} at {station.site} has been heard "
                                 "from. Nothing was sent.")
        if view.status != ONLINE:
            raise CommandRefused(f"{station.name} is offline, so nothing was sent (commands are "
                                 "never queued). Check that it is switched on and on the "
                                 "network; the controls come back when it is online.")
        if not self.connected.is_set():
            raise CommandRefused(f"The broker at {self.settings.host}:{self.settings.port} "
                                 "cannot be reached, so nothing was sent. Try again when the "
                                 "banner is gone.")
        tracked = TrackedCommand(command_id, station, name, tuple(arguments.items()), user,
                                 self.clock())
        self._inbox.put(("send", (tracked, payload)))
        return tracked

    # -- the desk's thread -------------------------------------------------------------------
    def _publish(self, tracked: TrackedCommand, payload: dict[str, Any]) -> None:
        topic = Topics(self.settings.topic_root, tracked.station.site,
                       tracked.station.name).command(tracked.command)
        properties = None
        if self._version5:
            # Never run late: the broker drops it if it cannot hand it over in time.
            properties = Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = int(self.answer_within)
        if not self.client.is_connected():
            tracked = replace(tracked, outcome=NOT_SENT)
        else:
            self.client.publish(topic, json.dumps(payload), qos=1, properties=properties)
            log.info("%s sent %s to %s (id %s)", tracked.user, tracked.command, tracked.station,
                     tracked.id)
        self._commands[tracked.id] = tracked
        kept = [key for key, known in self._commands.items() if known.station == tracked.station]
        for old in kept[:-KEPT_PER_STATION]:
            del self._commands[old]

    def _apply(self, topic: str, payload: bytes) -> bool:
        station = station_of(topic, self.settings.topic_root)
        if station is None:
            return False
        kind = topic.rsplit("/", 1)[-1]
        limit = MAX_CHOICES_BYTES if kind == "choices" else MAX_ACK_BYTES
        try:
            document = json.loads(payload) if len(payload) <= limit else None
        except ValueError:
            document = None
        if document is None or schemas.problems("choices" if kind == "choices" else "ack",
                                                document):
            log.warning("ignored a malformed %s message on %s", kind, topic)
            return False
        if kind == "choices":
            self._choices[station] = document
            return True
        if isinstance(document.get("state"), dict):
            self._engine_states[station] = document["state"]
        tracked = self._commands.get(str(document.get("id")))
        if tracked is None or tracked.station != station or tracked.outcome != SENT:
            return "state" in document
        if document["ok"]:
            self._commands[tracked.id] = replace(tracked, outcome=DONE)
        else:
            error = str(document.get("error", "refused"))
            if document.get("problems"):
                error += ": " + "; ".join(str(p) for p in document["problems"])
            self._commands[tracked.id] = replace(tracked, outcome=REFUSED, error=error)
        return True

    def _give_up_on_late(self) -> bool:
        now = self.clock()
        late = [tracked for tracked in self._commands.values()
                if tracked.outcome == SENT and now - tracked.sent_at > self.answer_within]
        for tracked in late:
            log.warning("%s did not answer %s (id %s) within %.0f s", tracked.station,
                        tracked.command, tracked.id, self.answer_within)
            self._commands[tracked.id] = replace(tracked, outcome=UNANSWERED)
        return bool(late)

    def _snapshot(self) -> None:
        by_station: dict[StationKey, list[TrackedCommand]] = {}
        for tracked in reversed(self._commands.values()):
            by_station.setdefault(tracked.station, []).append(tracked)
        self.view = DeskView({key: tuple(listed) for key, listed in by_station.items()},
                             dict(self._choices), dict(self._engine_states))
        self.on_change()

    def take(self, wait: float = 0.0) -> bool:
        """Handle what arrived (waiting up to `wait` s for the first); False once stopped."""
        changed = self._give_up_on_late()
        deadline = time.monotonic() + wait
        while True:
            try:
                item = self._inbox.get(timeout=max(0.0, deadline - time.monotonic())) if (
                    wait) else self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return False
            kind, body = item
            if kind == "send":
                self._publish(*body)
                changed = True
            else:
                changed |= self._apply(*body)
            wait = 0.0
        if changed:
            self._snapshot()
        return True

    def run(self) -> None:
        while self.take(wait=0.25):
            pass

    def start(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port)
        self.client.loop_start()
        self._thread = threading.Thread(target=self.run, name="command-desk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(5)
        self.client.disconnect()
        self.client.loop_stop()
