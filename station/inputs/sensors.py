"""Variable sensors: a hand in an ultrasonic beam, a squeeze on a pad, read through gpiozero.

A distance sensor (HC-SR04) is gpiozero's `DistanceSensor`, an analog one (pressure pad,
squeeze bulb, bend sensor, potentiometer) one channel of gpiozero's `MCP3008` or `MCP3208`.
Readings never touch the switches' press path: each distance sensor is read on gpiozero's own
thread for it (the echo has to be waited for), every analog sensor on the one
``sensor-readings`` thread, at the station file's ``poll_hz``.

Each reading goes through `station.inputs.sensing` (the client's calibration, the 1-euro
filter) and then the mapping its slot has in the sound set:

* ``zones``: entering a zone plays its note (`SensorListener.zone`);
* ``expression``: out of the dead zone a note starts, its level following the value;
* ``switch``: the threshold makes edges for the sensor's own `Switch`, whose access filter
  decides as for any switch (acceptance, lockout, stuck guard).

A distance sensor that hears no echo is a released switch: its note ends, and the loss is
reported once (`SensorListener.lost`), and again once when readings come back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from gpiozero import MCP3008, MCP3208, Device, DistanceSensor
from gpiozero.exc import DistanceSensorNoEcho, PWMSoftwareFallback

from station.config import AccessSettings, ClientProfile, InputConfig, SoundSet
from station.config.client import SensorCalibrationSection
from station.config.sound_set import SlotConfig
from station.inputs.sensing import Calibration, OneEuroFilter, ThresholdSwitch, ZoneTracker
from station.inputs.switches import DeadlineScheduler, PressListener, Switch

log = logging.getLogger(__name__)

SPEED_OF_SOUND = 343.26  # m/s, gpiozero's figure
# How far past far_cm the sensor is asked to measure: a hand just beyond the range reads as
# "nothing there", not as an error.
RANGE_MARGIN = 1.25
# The station reports a lost echo itself, once; gpiozero would warn at every reading.
warnings.filterwarnings("ignore", category=DistanceSensorNoEcho)
# Without pigpio gpiozero times echoes in software: a few mm of jitter, which the filter takes.
warnings.filterwarnings("ignore", category=PWMSoftwareFallback)

NO_ECHO = "no_echo"


class SensorListener(Protocol):
    """What a sensor's readings become: notes, expression, movements and faults. Called on a
    sensor's reading thread."""

    def zone(self, sensor: Sensor, zone: int, at: float, value: float) -> None: ...

    def zone_left(self, sensor: Sensor, at: float) -> None: ...

    def expression_started(self, sensor: Sensor, at: float, value: float) -> None: ...

    def expression(self, sensor: Sensor, value: float) -> None: ...

    def expression_ended(self, sensor: Sensor, at: float, held_seconds: float) -> None: ...

    def movement(self, sensor: Sensor, at: float, peak: float, seconds: float) -> None: ...

    def lost(self, sensor: Sensor, at: float, reason: str) -> None: ...

    def back(self, sensor: Sensor, at: float) -> None: ...


def calibration_of(section: SensorCalibrationSection | None) -> Calibration:
    section = section or SensorCalibrationSection()
    return Calibration(section.floor, section.ceiling, section.dead_zone, section.curve)


def smoothing_of(section: SensorCalibrationSection | None) -> OneEuroFilter:
    section = section or SensorCalibrationSection()
    return OneEuroFilter(section.steady_hz, section.responsiveness)


class CalibrationRun:
    """The lowest and highest (smoothed) reading over a few seconds of the client moving."""

    def __init__(self, until: float, done: Callable[[float, float, int], None]) -> None:
        self.until = until
        self.done = done
        self.low = math.inf
        self.high = -math.inf
        self.readings = 0

    def add(self, reading: float) -> None:
        self.low = min(self.low, reading)
        self.high = max(self.high, reading)
        self.readings += 1


class Sensor:
    """One variable sensor: its readings through calibration and filter to its mapping.

    Readings arrive on one thread (the sensor's own); settings change from the control
    thread, so both take `_lock`. The sensor's `switch` is an ordinary `Switch` without a
    pin: the ``switch`` mapping feeds it edges.
    """

    def __init__(self, config: InputConfig, switch: Switch, listener: SensorListener) -> None:
        self.config = config
        self.name = config.name
        self.slot = config.slot
        self.switch = switch
        self._listener = listener
        self._lock = threading.Lock()
        self.interval = 1.0 / config.readings_per_second
        self.calibration = Calibration()
        self._filter = OneEuroFilter()
        self.mapping = "switch"
        self._zones: ZoneTracker | None = None
        self._threshold = ThresholdSwitch(0.5, 0.04)
        # What the mapping currently holds: a zone, a sounding expression note, a closed switch.
        self._sounding_since: float | None = None
        self._switch_on = False
        self._movement: tuple[float, float] | None = None  # (since, peak)
        self.lost = False
        self.value = 0.0  # the last value after calibration and filter, 0–1
        self.reading: float | None = None  # the last smoothed reading, 0–1 of the sensor
        self._calibrating: CalibrationRun | None = None
        self.device: Any = None

    # -- settings (control thread) ---------------------------------------------------------
    def configure(self, slot: SlotConfig | None, calibration: SensorCalibrationSection | None,
                  settings: AccessSettings, at: float) -> None:
        """The mapping of the slot in the current sound set (a missing slot plays nothing),
        the client's calibration and access settings; what sounds now is ended first."""
        with self._lock:
            self._end_everything(at)
            self.calibration = calibration_of(calibration)
            self._filter = smoothing_of(calibration)
            if slot is None:
                self.mapping = "none"
                self._zones = None
            else:
                self.mapping = slot.sensor
                self._zones = ZoneTracker(slot.zones, slot.hysteresis)
                self._threshold = ThresholdSwitch(slot.threshold, slot.hysteresis)
        self.switch.apply(settings)

    @property
    def zones(self) -> int:
        return self._zones.zones if self._zones is not None else 0

    def calibrate(self, seconds: float, done: Callable[[float, float, int], None]) -> None:
        """Record the lowest and highest reading for `seconds`, then call done(low, high, n)
        on the reading thread; the sensor goes on playing meanwhile."""
        with self._lock:
            self._calibrating = CalibrationRun(time.monotonic() + seconds, done)

    # -- readings (the sensor's thread) ----------------------------------------------------
    def read(self, reading: float | None, at: float) -> None:
        """One reading, 0–1 of the sensor's range (None: no echo), taken at monotonic `at`."""
        finished: CalibrationRun | None = None
        with self._lock:
            if reading is None:
                if not self.lost:
                    self.lost = True
                    self._end_everything(at)
                    self._listener.lost(self, at, NO_ECHO)
                return
            if self.lost:
                self.lost = False
                self._filter.reset()
                self._listener.back(self, at)
            smoothed = self._filter(reading, at)
            self.reading = smoothed
            run = self._calibrating
            if run is not None:
                run.add(smoothed)
                if at >= run.until:
                    self._calibrating = None
                    finished = run
            value = self.calibration.apply(smoothed)
            self.value = value
            self._follow_movement(value, at)
            self._map(value, at)
        if finished is not None:
            finished.done(finished.low, finished.high, finished.readings)

    def _map(self, value: float, at: float) -> None:
        listener = self._listener
        mapping = self.mapping
        if mapping == "zones" and self._zones is not None:
            before = self._zones.zone
            zone = self._zones.update(value)
            if zone != before:
                if zone is None:
                    listener.zone_left(self, at)
                else:
                    listener.zone(self, zone, at, value)
        elif mapping == "expression":
            if value > 0.0 and self._sounding_since is None:
                self._sounding_since = at
                listener.expression_started(self, at, value)
            elif value > 0.0:
                listener.expression(self, value)
            elif self._sounding_since is not None:
                listener.expression_ended(self, at, at - self._sounding_since)
                self._sounding_since = None
        elif mapping == "switch":
            on = self._threshold.update(value)
            if on != self._switch_on:
                self._switch_on = on
                self.switch.edge(on, at)

    def _follow_movement(self, value: float, at: float) -> None:
        """A movement is one excursion out of the dead zone and back, reported as it ends with
        its peak: how far the client reached."""
        movement = self._movement
        if value > 0.0:
            if movement is None:
                self._movement = (at, value)
            elif value > movement[1]:
                self._movement = (movement[0], value)
        elif movement is not None:
            since, peak = movement
            self._movement = None
            self._listener.movement(self, at, peak, at - since)

    def _end_everything(self, at: float) -> None:
        """As if the hand left: the zone's note ends, expression ends, the switch opens."""
        listener = self._listener
        if self._zones is not None and self._zones.zone is not None:
            self._zones.zone = None
            listener.zone_left(self, at)
        if self._sounding_since is not None:
            listener.expression_ended(self, at, at - self._sounding_since)
            self._sounding_since = None
        if self._switch_on:
            self._switch_on = False
            self._threshold.on = False
            self.switch.edge(False, at)
        self._follow_movement(0.0, at)
        self.value = 0.0

    def close(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            # The device's reading callback holds this sensor: dropped here, the pair (and
            # what the listener reaches, the sound engine's pyo objects) is freed at once,
            # not by a later garbage collection that may come after the audio server is gone.
            device.close()


class _Ranger(DistanceSensor):
    """gpiozero's HC-SR04 reader, handing every reading (None: no echo) to `on_reading` as
    it is taken, instead of keeping a median of the last nine (which lags the hand)."""

    def __init__(self, on_reading: Callable[[float | None], None], interval: float,
                 **options: Any) -> None:
        self._on_reading = on_reading
        self._interval = interval
        super().__init__(queue_len=1, partial=True, **options)
        # gpiozero waits sample_wait between readings; read at the station's rate instead.
        self._queue.sample_wait = interval

    def _read(self) -> float | None:
        started = time.monotonic()
        try:
            value = super()._read()
        except AttributeError:
            if self.closed:  # closed while its reading thread was mid-reading
                return None
            raise
        # The wait after a reading is what is left of the interval once the echo was timed,
        # so that a reading starts every interval however far the hand is.
        self._queue.sample_wait = max(0.0, self._interval - (time.monotonic() - started))
        try:
            self._on_reading(value)
        except Exception:  # a failing reading must not end gpiozero's reading thread
            log.exception("sensor reading failed; the sensor carries on")
        return value


def distance_reading(fraction_of_max: float | None, config: InputConfig) -> float | None:
    """gpiozero's reading (a share of max_distance) as 0–1 of the input's range: 1 at
    near_cm, 0 at far_cm and beyond."""
    if fraction_of_max is None:
        return None
    centimetres = fraction_of_max * config.far_cm * RANGE_MARGIN
    span = config.far_cm - config.near_cm
    return min(1.0, max(0.0, (config.far_cm - centimetres) / span))


def build_distance(sensor: Sensor, pin_factory: Any) -> Any:
    config = sensor.config
    assert config.pin is not None and config.echo_pin is not None  # checked with the config

    def on_reading(fraction: float | None) -> None:
        sensor.read(distance_reading(fraction, config), time.monotonic())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PWMSoftwareFallback)
        return _Ranger(on_reading, sensor.interval, echo=config.echo_pin, trigger=config.pin,
                       max_distance=config.far_cm * RANGE_MARGIN / 100.0,
                       pin_factory=pin_factory)


ADC_CLASSES = {"mcp3008": MCP3008, "mcp3208": MCP3208}


def build_adc(config: InputConfig, pin_factory: Any) -> Any:
    assert config.adc is not None and config.channel is not None
    # gpiozero's software SPI bus (the mock factory's, or a Pi without the SPI driver) asks
    # for the default pin factory even when given one; let that be the station's.
    if Device.pin_factory is None:
        Device.pin_factory = pin_factory
    return ADC_CLASSES[config.adc](channel=config.channel, device=config.spi_device,
                                   pin_factory=pin_factory)


class AnalogReader:
    """The one thread that reads every analog sensor, each at its own rate."""

    def __init__(self, sensors: Sequence[tuple[Sensor, Any]]) -> None:
        self._sensors = list(sensors)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sensor-readings", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = {sensor.name: time.monotonic() for sensor, _ in self._sensors}
        while not self._stop.is_set():
            now = time.monotonic()
            for sensor, adc in self._sensors:
                if now < due[sensor.name]:
                    continue
                try:
                    reading = float(adc.value)
                except Exception:
                    log.exception("reading %s failed; trying again", sensor.name)
                else:
                    sensor.read(min(1.0, max(0.0, reading)), time.monotonic())
                # Keep the rate without drifting; after a stall, start again from now.
                due[sensor.name] = max(due[sensor.name] + sensor.interval, now)
            self._stop.wait(max(0.0, min(due.values()) - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class SensorBoard:
    """Every variable sensor of the station, built on the pin factory; their switches join the
    `SwitchBoard`'s (so access settings and cue lights reach them as any switch)."""

    def __init__(
        self,
        inputs: Sequence[InputConfig],
        client: ClientProfile,
        sound_set: SoundSet,
        listener: SensorListener,
        press_listener: PressListener,
        scheduler: DeadlineScheduler,
        pin_factory: Any,
        *,
        simulation: Any = None,
    ) -> None:
        self.sensors: dict[str, Sensor] = {}
        analog: list[tuple[Sensor, Any]] = []
        for item in inputs:
            if not item.is_sensor or item.role != "play":
                continue
            switch = Switch(item, None, AccessSettings.for_input(item, client.access),
                            press_listener, scheduler, pin_factory)
            sensor = Sensor(item, switch, listener)
            self.sensors[item.name] = sensor
            self._configure(sensor, sound_set, client)
            if simulation is not None:
                simulation.wire(item)
            if item.kind == "distance":
                sensor.device = build_distance(sensor, pin_factory)
            else:
                sensor.device = build_adc(item, pin_factory)
                analog.append((sensor, sensor.device))
        self._analog = AnalogReader(analog) if analog else None

    @staticmethod
    def _configure(sensor: Sensor, sound_set: SoundSet, client: ClientProfile) -> None:
        slots = sound_set.slots
        slot = slots[sensor.slot - 1] if sensor.slot <= len(slots) else None
        sensor.configure(slot, client.sensors.get(sensor.name),
                         AccessSettings.for_input(sensor.config, client.access),
                         time.monotonic())

    @property
    def switches(self) -> Mapping[str, Switch]:
        return {name: sensor.switch for name, sensor in self.sensors.items()}

    def apply(self, sound_set: SoundSet, client: ClientProfile) -> None:
        """A new sound set or client: each sensor's mapping and calibration from now on."""
        for sensor in self.sensors.values():
            self._configure(sensor, sound_set, client)

    def close(self) -> None:
        if self._analog is not None:
            self._analog.close()
        for sensor in self.sensors.values():
            sensor.close()

