"""The production engine: every part built from the station's configuration, then wired."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from station.config import LoadedStation
from station.engine.press import PressPath, SensorPath
from station.engine.process import EngineProcess
from station.engine.session import Sessions
from station.engine.station_control import StationControl
from station.inputs.controls import ControlPanel
from station.inputs.pins import make_pin_factory
from station.inputs.sensors import SensorBoard
from station.inputs.simulate import SensorSimulation, SimulatedSwitches
from station.inputs.switches import Switch, SwitchBoard
from station.inputs.usb import UsbSwitches
from station.sound.output import AudioOutput
from station.telemetry.eventlog import EventRecorder

log = logging.getLogger(__name__)

# pyo's audio callback takes the GIL every block; a short switch interval lets the GPIO
# callback thread get it back quickly (design.md, "Two processes").
SWITCH_INTERVAL_SECONDS = 0.0005


def usb_switches(switches: Sequence[Switch]) -> UsbSwitches | None:
    """Read the USB switch interfaces, if any of `switches` is one (simulation: none is)."""
    usb = [switch for switch in switches
           if switch.gpio_device is None and switch.config.kind == "usb-switch"]
    if not usb:
        return None
    try:
        return UsbSwitches(usb)
    except ImportError:
        log.error(
            "inputs %s are USB switches, which need python-evdev (Linux only); they are off",
            ", ".join(switch.name for switch in usb),
        )
        return None


def build_engine(
    station: LoadedStation,
    *,
    simulate: bool = False,
    record: Path | None = None,
    overrides: Sequence[str] = (),
) -> EngineProcess:
    """The engine of `station`: GPIO (or mock pins with `simulate`), the configured audio
    backend, the event log in its data directory; `record` records from the start."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    config = station.config
    pin_factory, factory_name = make_pin_factory(config.gpio.pin_factory, simulate)
    output = AudioOutput(
        config.audio,
        station.sound_set,
        station.client,
        station.sound_sets.values(),
        jack_name=f"sensory-station-{config.station.id}",
    )
    recorder = EventRecorder(station.data_dir)
    mock_pins = factory_name == "mock"
    press_path = PressPath(output, recorder)
    board = SwitchBoard(
        config.inputs, station.client.access, press_path, pin_factory, simulate=mock_pins,
    )
    simulation = SensorSimulation(pin_factory) if mock_pins else None
    sensors = SensorBoard(
        config.inputs, station.client, station.sound_set, SensorPath(output, recorder),
        press_path, board.scheduler, pin_factory, simulation=simulation,
    )
    board.switches.update(sensors.switches)
    control = StationControl(
        station, output, board, recorder,
        Sessions(recorder, output, station.data_dir / "recordings"),
        start_details={
            "audio_backend": output.audio.backend,
            "pin_factory": factory_name,
            "recording": record is not None,
            "pid": os.getpid(),
        },
        overrides=overrides,
        sensors=sensors,
    )
    controls = ControlPanel(
        config.inputs,
        control,
        pin_factory,
        board.scheduler,
        status_led_pin=config.controls.status_led_pin,
        spare_pins=board.spare_pins,
    )
    return EngineProcess(
        output=output,
        recorder=recorder,
        board=board,
        controls=controls,
        control=control,
        usb=usb_switches([*board.switches.values(), *controls.switches.values()]),
        simulated=(SimulatedSwitches(board, pin_factory, controls.switches, simulation)
                   if mock_pins else None),
        record=record,
    )
