"""Variable sensors on gpiozero's mock pins: an HC-SR04 (`DistanceSensor` on a mock trigger
and echo pin) and an MCP3008 (on gpiozero's mock SPI lines), read by the station's own sensor
threads, played by the real sound engine on pyo's manual server, recorded in the event log."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.config import ClientProfile, InputConfig
from station.contract.events import EventType
from station.engine.press import PressPath, SensorPath
from station.inputs.sensing import Calibration, OneEuroFilter, ThresholdSwitch, ZoneTracker
from station.inputs.sensors import SensorBoard
from station.inputs.simulate import SensorSimulation
from station.inputs.switches import DeadlineScheduler
from station.music.theory import frequency, midi_note
from station.telemetry.eventlog import Event, EventRecorder, iterate_all
from tests.sound.render import Capture, client, sound_set, spectrum_peaks

WAIT = 10.0

SENSOR_SET = """
[sound_set]
name = "sensor-test"
instrument = "sine"
key = "C"
octave = 4
scale = "major"
reverb = 0.0

[[slots]]
action = "note"
sensor = "zones"
zones = 4
hysteresis = 0.05

[[slots]]
action = "note"
degree = 5
sensor = "switch"
threshold = 0.5

[[slots]]
action = "note"
degree = 3
sensor = "expression"
"""

BEAM = InputConfig(name="beam", kind="distance", pin=20, echo_pin=21, slot=1, near_cm=5,
                   far_cm=60)
PAD = InputConfig(name="pad", kind="analog", adc="mcp3008", channel=0, slot=2)
BULB = InputConfig(name="bulb", kind="analog", adc="mcp3008", channel=1, slot=3)


class Rig:
    """The sensors of one station on a mock factory, wired to a real sound engine and event
    log as the engine wires them."""

    def __init__(self, factory: Any, server: Any, folder: Path, profile: ClientProfile,
                 inputs: list[InputConfig]) -> None:
        from station.sound.engine import SoundEngine

        self.server = server
        self.sound_set = sound_set(folder, SENSOR_SET)
        self.engine = SoundEngine(2, self.sound_set, profile)
        self.capture = Capture(server, self.engine)
        self.capture.seconds(0.6)  # past the start-up fade-in
        self.data_dir = folder / "data"
        self.recorder = EventRecorder(self.data_dir)
        self.scheduler = DeadlineScheduler()
        self.simulation = SensorSimulation(factory)
        self.board = SensorBoard(
            inputs, profile, self.sound_set, SensorPath(self.engine, self.recorder),
            PressPath(self.engine, self.recorder), self.scheduler, factory,
            simulation=self.simulation,
        )

    def events(self) -> list[Event]:
        self.recorder.flush()
        return list(iterate_all(self.data_dir))

    def wait_for(self, what: str, predicate: Callable[[list[Event]], bool]) -> list[Event]:
        """The event log once `predicate` holds for it (checked every 20 ms, WAIT at most)."""
        pause = threading.Event()
        deadline = time.monotonic() + WAIT
        while True:
            events = self.events()
            if predicate(events):
                return events
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {WAIT} s; got "
                            f"{[(e.type, e.input, e.reason, e.detail) for e in events][-12:]}")
            pause.wait(0.02)

    def close(self) -> None:
        self.board.close()
        self.scheduler.close()
        self.recorder.close()


@pytest.fixture
def rig(mock_factory: Any, pyo_server: Any, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(profile: ClientProfile | None = None, inputs: list[InputConfig] | None = None
             ) -> Rig:
        built = Rig(mock_factory, pyo_server, tmp_path, profile or client(),
                    inputs or [BEAM, PAD, BULB])
        made.append(built)
        return built

    yield make
    for built in made:
        built.close()
    made.clear()
    # The rigs' pyo objects go while their server still runs (it shuts down after this).
    gc.collect()


def of(events: list[Event], kind: EventType, name: str) -> list[Event]:
    return [event for event in events if event.type == kind and event.input == name]


def zone_hertz(rig: Rig, zone: int) -> float:
    section = rig.sound_set.sound_set
    return frequency(midi_note(section.key, section.octave, section.scale, 1 + zone, 0))


# -- the arithmetic --------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(border=st.integers(min_value=1, max_value=3),
       wobble=st.lists(st.floats(min_value=-0.04, max_value=0.04), min_size=1, max_size=60))
def test_a_value_trembling_on_a_zone_border_never_changes_zone(border: int,
                                                               wobble: list[float]) -> None:
    tracker = ZoneTracker(4, hysteresis=0.05)
    entered = tracker.update(border / 4 + 0.01)
    assert entered == border
    assert all(tracker.update(border / 4 + shake) == border for shake in wobble)


def test_zones_follow_a_sweep_in_order_and_no_hand_is_no_zone() -> None:
    tracker = ZoneTracker(4, hysteresis=0.05)
    seen = []
    for value in np.linspace(0.0, 1.0, 101):
        zone = tracker.update(float(value))
        if not seen or seen[-1] != zone:
            seen.append(zone)
    assert seen == [None, 0, 1, 2, 3]
    assert tracker.update(0.0) is None


def test_a_squeeze_wavering_at_the_threshold_is_one_press() -> None:
    switch = ThresholdSwitch(0.5, hysteresis=0.05)
    states = [switch.update(value) for value in (0.3, 0.51, 0.48, 0.52, 0.47, 0.5, 0.44, 0.2)]
    assert states == [False, True, True, True, True, True, False, False]


def test_calibration_spans_the_clients_own_range() -> None:
    calibration = Calibration(floor=0.2, ceiling=0.6, dead_zone=0.1, curve=1.0)
    assert calibration.apply(0.1) == 0.0, "below the floor"
    assert calibration.apply(0.22) == 0.0, "in the dead zone"
    assert calibration.apply(0.6) == 1.0
    assert calibration.apply(0.9) == 1.0, "past the ceiling"
    assert calibration.apply(0.4) == pytest.approx((0.5 - 0.1) / 0.9)
    light = Calibration(floor=0.2, ceiling=0.6, dead_zone=0.1, curve=0.5)
    assert light.apply(0.4) > calibration.apply(0.4), "a curve below 1 needs less effort"


def test_the_filter_steadies_jitter_but_follows_a_step() -> None:
    smoothing = OneEuroFilter(min_cutoff_hz=1.0, beta=4.0)
    rate = 100.0
    rng = np.random.default_rng(7)
    still = [smoothing(0.5 + rng.uniform(-0.03, 0.03), step / rate) for step in range(200)]
    assert np.ptp(still[100:]) < 0.02, "a trembling, still hand reads as still"
    after = [smoothing(0.9, (200 + step) / rate) for step in range(1, 11)]
    assert after[2] > 0.8, "three readings after a step the value is nearly there"


# -- on the mock pins, into the sound engine -------------------------------------------------

def test_a_slow_sweep_through_the_beam_plays_each_zones_note_in_order(rig: Any) -> None:
    station = rig(inputs=[BEAM])
    # The middle of each zone of the client's range (dead zone 0.05 above the floor).
    for zone in range(4):
        value = 0.05 + 0.95 * (zone + 0.5) / 4
        station.simulation.set("beam", value)
        events = station.wait_for(f"zone {zone + 1}", lambda e, z=zone: any(
            event.detail["zone"] == z + 1 for event in of(e, EventType.ZONE, "beam")))
        start = station.capture.now
        station.capture.seconds(0.3)
        heard = spectrum_peaks(station.capture.array(start + 2400), 1)[0]
        assert heard == pytest.approx(zone_hertz(station, zone), rel=0.01), f"zone {zone + 1}"
    zones = [event.detail["zone"] for event in of(events, EventType.ZONE, "beam")]
    assert zones == [1, 2, 3, 4], [(e.type, e.detail, e.t_mono) for e in events]


def test_a_hand_trembling_on_a_zone_border_plays_the_zone_once(rig: Any) -> None:
    station = rig(inputs=[BEAM])
    border = 0.05 + 0.95 * 0.5  # between zones 2 and 3 of the client's range
    station.simulation.set("beam", border + 0.05)
    entered = station.wait_for("zone 3", lambda e: any(
        event.detail["zone"] == 3 for event in of(e, EventType.ZONE, "beam")))
    before = len(of(entered, EventType.ZONE, "beam"))
    pause = threading.Event()
    started = time.monotonic()
    for number in range(30):  # about 2 s of tremor, across the border each time
        station.simulation.set("beam", border + (0.02 if number % 2 else -0.02))
        pause.wait(0.07)
    readings = round((time.monotonic() - started) * BEAM.readings_per_second)
    assert readings > 20, "the tremor lasted many readings"
    zones = of(station.events(), EventType.ZONE, "beam")
    assert len(zones) == before, [event.detail for event in zones]
    assert zones[-1].detail["zone"] == 3, "one note, not one per tremble"


def test_a_squeeze_above_the_threshold_is_a_press_and_a_short_one_is_too_short(
    rig: Any,
) -> None:
    profile = client()
    profile = profile.model_copy(update={"access": profile.access.model_copy(
        update={"acceptance_ms": 150.0})})
    station = rig(profile=profile, inputs=[PAD])
    station.simulation.set("pad", 0.8)
    events = station.wait_for("the press", lambda e: len(of(e, EventType.PRESS, "pad")) == 1)
    start = station.capture.now
    station.capture.seconds(0.3)
    degree_five = frequency(midi_note("C", 4, "major", 5, 0))
    assert spectrum_peaks(station.capture.array(start), 1)[0] == pytest.approx(
        degree_five, rel=0.01), "the slot's note sounds"
    station.simulation.set("pad", 0.0)
    station.wait_for("the release", lambda e: len(of(e, EventType.RELEASE, "pad")) == 1)
    # A squeeze of about 50 ms: past the threshold, but shorter than the acceptance delay.
    station.simulation.set("pad", 0.8)
    threading.Event().wait(0.05)
    station.simulation.set("pad", 0.0)
    events = station.wait_for("the rejection", lambda e: any(
        event.reason == "too_short" for event in of(e, EventType.REJECTED, "pad")))
    assert len(of(events, EventType.PRESS, "pad")) == 1, "the short squeeze played nothing"


def test_expression_follows_the_squeeze_within_the_ceiling(rig: Any) -> None:
    station = rig(inputs=[BULB])
    station.simulation.set("bulb", 0.3)
    station.wait_for("the note", lambda e: len(of(e, EventType.PRESS, "bulb")) == 1)
    station.capture.seconds(0.5)
    start = station.capture.now
    station.capture.seconds(0.3)
    light = station.capture.peak(start)
    station.simulation.set("bulb", 1.0)
    # The value reaches the top within a few readings (100 a second); render past them.
    pause = threading.Event()
    deadline = time.monotonic() + WAIT
    while station.board.sensors["bulb"].value < 0.99 and time.monotonic() < deadline:
        pause.wait(0.01)
    station.capture.seconds(0.1)
    start = station.capture.now
    station.capture.seconds(0.3)
    hard = station.capture.peak(start)
    assert hard > light * 2, "squeezing harder is louder"
    ceiling = 10 ** (-12.0 / 20.0)  # the client's default ceiling, -12 dBFS
    assert hard <= ceiling * 1.001, "never above the client's ceiling"
    third = frequency(midi_note("C", 4, "major", 3, 0))
    assert spectrum_peaks(station.capture.array(start), 1)[0] == pytest.approx(third, rel=0.01)


def test_no_echo_releases_the_note_and_is_reported_once(rig: Any) -> None:
    station = rig(inputs=[BEAM])
    station.simulation.set("beam", 0.9)
    station.wait_for("the top zone", lambda e: len(of(e, EventType.ZONE, "beam")) >= 1)
    station.capture.seconds(0.5)
    start = station.capture.now
    station.capture.seconds(0.2)
    sounding = station.capture.peak(start)
    assert sounding > 0.05
    station.simulation.set("beam", None)
    station.wait_for("the loss", lambda e: len(of(e, EventType.SENSOR_LOST, "beam")) == 1)
    station.capture.seconds(1.0)  # the sine's release is 0.4 s
    start = station.capture.now
    station.capture.seconds(0.2)
    assert station.capture.peak(start) < sounding / 100, "the note ended with the echo"
    # More failed readings: still one report.
    threading.Event().wait(1.0)
    events = station.events()
    assert [event.reason for event in of(events, EventType.SENSOR_LOST, "beam")] == ["no_echo"]
    station.simulation.set("beam", 0.9)
    events = station.wait_for("readings again", lambda e: len(
        of(e, EventType.SENSOR_BACK, "beam")) == 1)
    assert len(of(events, EventType.SENSOR_LOST, "beam")) == 1


def test_a_movement_is_recorded_with_how_far_it_reached(rig: Any) -> None:
    station = rig(inputs=[PAD])
    for value in (0.3, 0.7, 0.3, 0.0):
        station.simulation.set("pad", value)
        threading.Event().wait(0.15)
    events = station.wait_for("the movement", lambda e: len(
        of(e, EventType.MOVEMENT, "pad")) == 1)
    movement = of(events, EventType.MOVEMENT, "pad")[0]
    assert movement.detail["peak"] == pytest.approx((0.7 - 0.05) / 0.95, abs=0.05)
    assert 300 < movement.hold_ms < 1500


def test_the_session_summary_tells_the_range_used_and_the_time_in_each_zone(rig: Any) -> None:
    from station.dashboard.reports.paragraph import sensor_lines
    from station.telemetry.aggregate import sensors_summary

    station = rig(inputs=[BEAM])
    pause = threading.Event()
    for value in (0.3, 0.9, 0.3, 0.0):  # one movement: up to zone 4 and back, then out
        station.simulation.set("beam", value)
        pause.wait(0.5)
    events = station.wait_for("the movement", lambda e: len(
        of(e, EventType.MOVEMENT, "beam")) == 1)
    summary = sensors_summary(events)["beam"]
    assert summary["movements"] == 1
    reached = (0.9 - 0.05) / 0.95
    assert summary["peaks"] == [pytest.approx(reached, abs=0.03)] * 2, "one movement, one peak"
    entries = [event.detail["zone"] for event in of(events, EventType.ZONE, "beam")]
    assert summary["zone_entries"] == {str(zone): entries.count(zone) for zone in set(entries)}
    assert sum(summary["zone_seconds"].values()) == pytest.approx(1.5, abs=0.2), (
        "in a zone from the first entry until the hand left")
    [(name, words)] = sensor_lines({"sensors": {"beam": summary}})
    assert name == "beam" and words.startswith(
        f"1 movement, reaching {round(summary['peaks'][0] * 100)} % of the client's range")
    assert "zone 4 entered once" in words
