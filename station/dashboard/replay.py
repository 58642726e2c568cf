"""Gap filling: the dashboard asks each station to replay the seq ranges its store lacks.

The store knows, per station, which seqs below the highest it has are missing (a dashboard
that was down longer than the broker kept its queue, a message lost in a bridge). For every
such gap of an online station the filler publishes ``cmd/replay`` (docs/mqtt.md); the
station's agent publishes those events again and ingest stores them like any other. A range
the station answers is not in its log any more (deleted by its retention) is remembered and
not asked for again: `lost` lists those for the dashboard to show.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station.contract.commands import replay_max_events
from station.contract.topics import ONLINE, Topics
from station.dashboard.ingest import IngestSettings
from station.dashboard.store import SeqGap, Store
from station.dashboard.store.records import StationKey

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 5.0
# A replay not answered in this time is asked for again (the station was busy or went away).
ANSWER_WITHIN_SECONDS = 120.0
REPLAY = "replay"


@dataclass(frozen=True)
class AskedReplay:
    station: StationKey
    from_seq: int
    to_seq: int
    asked_at: float


def _split(gap: SeqGap, longest: int) -> list[tuple[int, int]]:
    """The gap as ranges of at most `longest` seqs each."""
    return [(first, min(first + longest - 1, gap.to_seq))
            for first in range(gap.from_seq, gap.to_seq + 1, longest)]


def _covered(ranges: Iterable[tuple[int, int]], first: int, last: int) -> bool:
    return any(low <= first and last <= high for low, high in ranges)


class GapFiller:
    """Asks stations to replay what the store lacks, and listens to their answers.

    Threads: paho's network thread only queues each ack (`_on_message`); the filler's own
    thread (`run`, or a caller of `check_once` and `take_answers`) owns the requests and the
    lost ranges.
    """

    def __init__(self, store: Store, settings: IngestSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.asked: dict[str, AskedReplay] = {}  # by command id
        self.lost: dict[StationKey, list[tuple[int, int]]] = {}
        self.replayed = 0  # events the stations said they published again
        self.connected = threading.Event()
        self._answers: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._longest = replay_max_events()
        version5 = settings.protocol == "5"
        # A clean session of its own: a replay asked while a station is away must not run
        # hours later, and acks that came while the dashboard was away concern nobody.
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{settings.client_id}-replay",
            protocol=mqtt.MQTTv5 if version5 else mqtt.MQTTv311,
        )
        settings.prepare(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_message = lambda _client, _userdata, message: self._answers.put(
            (message.topic, bytes(message.payload)))

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the MQTT broker refused the dashboard's replay client (%s)", reason)
            return
        client.subscribe(f"{self.settings.topic_root}/+/+/ack", qos=1)
        self.connected.set()

    # -- the filler's thread -----------------------------------------------------------------
    def check_once(self) -> list[AskedReplay]:
        """Ask every online station for the gaps not asked for (or not answered in time)."""
        self.take_answers()
        now = self.clock()
        online = {view.station for view in self.store.stations() if view.status == ONLINE}
        # A gap that a replay in progress covers shrinks as its events arrive: not asked again.
        waiting: dict[StationKey, list[tuple[int, int]]] = {}
        for asked in self.asked.values():
            if now - asked.asked_at < ANSWER_WITHIN_SECONDS:
                waiting.setdefault(asked.station, []).append((asked.from_seq, asked.to_seq))
        sent = []
        for gap in self.store.gaps():
            if gap.station not in online or not self.connected.is_set():
                continue
            for first, last in _split(gap, self._longest):
                if _covered(waiting.get(gap.station, ()), first, last) or _covered(
                        self.lost.get(gap.station, ()), first, last):
                    continue
                sent.append(self._ask(gap.station, first, last, now))
        return sent

    def _ask(self, station: StationKey, first: int, last: int, now: float) -> AskedReplay:
        command_id = f"replay-{uuid.uuid4().hex[:12]}"
        asked = AskedReplay(station, first, last, now)
        self.asked[command_id] = asked
        topics = Topics(self.settings.topic_root, station.site, station.name)
        self.client.publish(topics.command(REPLAY), json.dumps(
            {"id": command_id, "from_seq": first, "to_seq": last}), qos=1)
        log.info("asked %s to replay seq %d to %d", station, first, last)
        return asked

    def take_answers(self) -> int:
        """Apply the acks that arrived; how many answered one of our replays."""
        answered = 0
        while True:
            try:
                _topic, payload = self._answers.get_nowait()
            except queue.Empty:
                return answered
            try:
                ack = json.loads(payload)
                asked = self.asked.pop(ack["id"]) if ack.get("command") == REPLAY else None
            except (ValueError, KeyError, TypeError):
                continue  # another client's ack, or not one at all
            if asked is None:
                continue
            answered += 1
            if not ack.get("ok"):
                log.warning("%s refused to replay seq %d to %d: %s", asked.station,
                            asked.from_seq, asked.to_seq, ack.get("error"))
                continue
            self.replayed += int(ack.get("replayed", 0))
            for low, high in ack.get("missing", []):
                self.lost.setdefault(asked.station, []).append((int(low), int(high)))
                log.warning("%s no longer has seq %d to %d (deleted by its retention); those "
                            "events cannot be recovered", asked.station, low, high)

    def run(self, every: float = CHECK_EVERY_SECONDS) -> None:
        while not self._stopping.wait(every):
            try:
                self.check_once()
            except Exception:  # a database hiccup must not end gap filling for good
                log.exception("gap filling failed this time; trying again in %.0f s", every)

    def start(self, every: float = CHECK_EVERY_SECONDS) -> None:
        self.client.connect_async(self.settings.host, self.settings.port)
        self.client.loop_start()
        self._thread = threading.Thread(target=self.run, args=(every,), name="gap-filler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        self.client.disconnect()
        self.client.loop_stop()
