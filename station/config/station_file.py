"""The station file (``station.toml``): the models of its tables, and the rules that span them.

The rules here need only the station file: how the inputs are wired (pins and keys used once,
what each kind of input needs, controls and their actions) and the MQTT files it names. The
checks against the sound sets and client profiles are in `station.config.loading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr

from station.config.access import AccessOverride, access_problems, input_access_layers, merge_access
from station.config.dashboard import StationDashboardSection, check_dashboard_section
from station.config.problems import Problem, did_you_mean
from station.config.schema import NAME_PATTERN, PSEUDONYM_PATTERN, Schema

# BCM numbers of the GPIO lines on the 40-pin header of every Pi since the B+.
GPIO_PINS = range(0, 28)

# What a therapist's control input does (an input with role = "control").
ControlAction = Literal[
    "volume-up", "volume-down", "volume", "next-sound-set", "previous-sound-set", "session",
    "cue", "activity",
]
CONTROL_ACTIONS: tuple[str, ...] = get_args(ControlAction)


class StationSection(Schema):
    id: str = Field(default="station-1", pattern=NAME_PATTERN)
    site: str = Field(default="site-1", pattern=NAME_PATTERN)
    data_dir: str = "../data"
    sound_sets_dir: str = "sound-sets"
    clients_dir: str = "clients"
    activities_dir: str = "activities"  # optional: a station without one has no activities
    client: str = Field(default="C-0000", pattern=PSEUDONYM_PATTERN)
    sound_set: str = Field(default="calm-bells", pattern=NAME_PATTERN)


class AudioSection(Schema):
    backend: Literal["auto", "jack", "portaudio", "null"] = "auto"
    sample_rate: Literal[44100, 48000, 96000] = 48000
    buffer_size: int = Field(default=64, ge=16, le=4096)
    channels: int = Field(default=2, ge=1, le=8)
    output_device: str = ""


PinFactoryChoice = Literal["auto", "lgpio", "rpigpio", "mock"]


class GpioSection(Schema):
    pin_factory: PinFactoryChoice = "auto"


class MqttSection(Schema):
    host: str = ""
    port: int = Field(default=1883, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    topic_root: str = Field(default="sensory/v1", pattern=r"^[A-Za-z0-9_/-]+$")
    keepalive: int = Field(default=30, ge=5, le=3600)
    # "auto": MQTT 5 (the broker's refusals are visible), 3.1.1 if the broker speaks no 5.
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    # TLS: on when `tls` is true or a CA file is given. Paths are relative to the station file;
    # an empty ca_file uses the system's CAs. cert_file and key_file log in by certificate.
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    # Home Assistant MQTT discovery: the station appears as a device (default off).
    homeassistant_discovery: bool = False
    homeassistant_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_/-]+$")

    @property
    def uses_tls(self) -> bool:
        return self.tls or bool(self.ca_file or self.cert_file)


class TelemetrySection(Schema):
    """What the telemetry agent derives from the event log, and how long the log keeps it."""

    # Seconds between the aggregates and health messages (default 10).
    aggregate_seconds: float = Field(default=10.0, ge=1.0, le=3600.0)
    # Delivered events older than this many days are deleted (default 30; 0 keeps them all).
    retention_days: float = Field(default=30.0, ge=0.0, le=3650.0)
    # Below this many MB free in data_dir the status says so and the log warns (default 100).
    min_free_mb: float = Field(default=100.0, ge=0.0)
    # Presses at most this many seconds apart belong to one engaged stretch (default 10).
    engaged_gap_seconds: float = Field(default=10.0, gt=0.0, le=600.0)


# Variable sensors: they read how far or how hard, not only whether (station/inputs/sensors.py).
SENSOR_KINDS = ("distance", "analog")
# The ADC chips an analog sensor may be read through (gpiozero's MCP3008 and MCP3208 classes),
# with their channels.
ADC_CHANNELS = {"mcp3008": 8, "mcp3208": 8}
# The SPI0 lines an ADC uses (BCM): clock, MOSI and MISO, then the chip select by spi_device.
SPI0_PINS = {"SCLK": 11, "MOSI": 10, "MISO": 9}
SPI0_CHIP_SELECT = {0: 8, 1: 7}
# Readings per second when the station file gives none: an HC-SR04 needs ~60 ms between pings
# for the last echo to die away; an ADC reading takes well under a millisecond.
DEFAULT_POLL_HZ = {"distance": 16.0, "analog": 100.0}


class InputConfig(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal[
        "arcade-button", "adaptive-switch", "usb-switch", "keyboard", "rotary-encoder",
        "distance", "analog",
    ] = "arcade-button"
    pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    # The encoder's second line (B); its first (A) is `pin`.
    pin_b: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    pull_up: bool = True
    led_pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    # What the LED shows: "note", lit while the input's note sounds; "switch", lit while the
    # switch is held, from its first edge (before an acceptance delay has passed).
    led_shows: Literal["note", "switch"] = "note"
    role: Literal["play", "control"] = "play"
    action: ControlAction | None = None
    slot: int = Field(default=1, ge=1, le=64)
    key: str | None = Field(default=None, pattern=r"^[a-z0-9]$")
    # A USB switch interface (an HID keyboard or joystick): its device name as the system
    # shows it, and the key or button code it sends (`evtest` shows both).
    device: str | None = Field(default=None, min_length=1)
    code: str | None = Field(default=None, pattern=r"^(KEY|BTN)_[A-Z0-9_]+$")
    access: AccessOverride | None = None
    # A distance sensor (HC-SR04): `pin` is its trigger, `echo_pin` its echo; the hand is
    # read between `near_cm` (the top of the range) and `far_cm` (nothing there).
    echo_pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))
    near_cm: float = Field(default=5.0, ge=2.0, le=400.0)
    far_cm: float = Field(default=60.0, ge=3.0, le=400.0)
    # An analog sensor (pressure pad, squeeze bulb, bend sensor, potentiometer) on an ADC:
    # the chip, its channel and which SPI chip select (CE0 or CE1) it is on.
    adc: Literal["mcp3008", "mcp3208"] | None = None
    channel: int | None = Field(default=None, ge=0, le=7)
    spi_device: int = Field(default=0, ge=0, le=1)
    # Readings per second; default 16 for a distance sensor, 100 for an analog one.
    poll_hz: float | None = Field(default=None, ge=1.0, le=500.0)

    @property
    def is_sensor(self) -> bool:
        return self.kind in SENSOR_KINDS

    @property
    def readings_per_second(self) -> float:
        return self.poll_hz if self.poll_hz is not None else DEFAULT_POLL_HZ.get(self.kind, 0.0)


class ControlsSection(Schema):
    """Station-wide therapist controls (the control inputs themselves are [[inputs]])."""

    # An LED showing ready (a short blink every 2 s), session running (steady) or fault
    # (fast blink).
    status_led_pin: int | None = Field(default=None, ge=min(GPIO_PINS), le=max(GPIO_PINS))


class StationConfig(Schema):
    station: StationSection = StationSection()
    audio: AudioSection = AudioSection()
    gpio: GpioSection = GpioSection()
    mqtt: MqttSection = MqttSection()
    controls: ControlsSection = ControlsSection()
    telemetry: TelemetrySection = TelemetrySection()
    dashboard: StationDashboardSection = StationDashboardSection()
    inputs: list[InputConfig] = Field(default_factory=list, min_length=1)


# --------------------------------------------------------------------------------------
# Rules across the tables of one station file


def check_station_config(path: Path, config: StationConfig, problems: list[Problem]) -> None:
    """Add what is wrong in a validated station file to `problems`: input wiring, MQTT files,
    the dashboard's settings."""
    _check_inputs(path, config, problems)
    _check_mqtt_files(path, config, problems)
    check_dashboard_section(path, "dashboard", config.dashboard, problems)


def _check_inputs(path: Path, config: StationConfig, problems: list[Problem]) -> None:
    pin_owner: dict[int, str] = {}
    # (spi_device, channel) → the analog input read there.
    adc_channels: dict[tuple[int, int], str] = {}
    seen_names: set[str] = set()
    key_owner: dict[str, str] = {}
    if config.controls.status_led_pin is not None:
        pin_owner[config.controls.status_led_pin] = "controls.status_led_pin"
    for item in config.inputs:
        where = f"inputs[{item.name}]"
        if item.name in seen_names:
            problems.append(
                Problem(path, f"{where}.name", f"input name {item.name!r} is used twice")
            )
        seen_names.add(item.name)
        if item.kind not in ("keyboard", "usb-switch", "analog") and item.pin is None:
            problems.append(Problem(
                path, f"{where}.pin", f"required for a {item.kind}; give a BCM GPIO number"
                + (" (the sensor's trigger)" if item.kind == "distance" else "")
            ))
        _check_usb(path, where, item, problems)
        _check_role(path, where, item, problems)
        _check_sensor(path, where, item, problems, adc_channels, pin_owner)
        for key, pin in (("pin", item.pin), ("pin_b", item.pin_b), ("led_pin", item.led_pin),
                         ("echo_pin", item.echo_pin)):
            if pin is None:
                continue
            if pin in pin_owner:
                problems.append(Problem(
                    path, f"{where}.{key}", f"pin GPIO{pin} is already used by {pin_owner[pin]}"
                ))
            else:
                pin_owner[pin] = f"input {item.name!r}" + (
                    " (LED)" if key == "led_pin" else " (echo)" if key == "echo_pin" else "")
        if item.key is not None:
            if item.key in key_owner:
                problems.append(Problem(
                    path,
                    f"{where}.key",
                    f"key {item.key!r} is already used by input {key_owner[item.key]!r}",
                ))
            key_owner[item.key] = item.name
        problems.extend(access_problems(
            merge_access(*input_access_layers(item, None)), path, f"{where}.access"
        ))


def _check_sensor(
    path: Path, where: str, item: InputConfig, problems: list[Problem],
    adc_channels: dict[tuple[int, int], str], pin_owner: dict[int, str],
) -> None:
    """A distance sensor has its two pins and a range; an analog one its chip and channel, and
    takes the SPI lines (shared by every analog input). Neither has the other's settings."""
    given = item.model_fields_set
    if item.kind != "distance":
        for key in ("echo_pin", "near_cm", "far_cm"):
            if key in given:
                problems.append(Problem(path, f"{where}.{key}", "only a distance sensor has "
                                        f"{key}; set kind = \"distance\" or remove it"))
    if item.kind != "analog":
        for key in ("adc", "channel", "spi_device"):
            if key in given:
                problems.append(Problem(path, f"{where}.{key}", "only an analog sensor has "
                                        f"{key}; set kind = \"analog\" or remove it"))
    if not item.is_sensor:
        if "poll_hz" in given:
            problems.append(Problem(path, f"{where}.poll_hz",
                                    "only a sensor (kind distance or analog) is polled"))
        return
    if item.role != "play":
        problems.append(Problem(path, f"{where}.role",
                                f"a {item.kind} sensor plays; set role = \"play\""))
    if item.pin_b is not None:
        problems.append(Problem(path, f"{where}.pin_b", "only a rotary encoder has a second pin"))
    if item.kind == "distance":
        if item.echo_pin is None:
            problems.append(Problem(path, f"{where}.echo_pin",
                                    "a distance sensor needs its echo pin (BCM GPIO number)"))
        if item.near_cm >= item.far_cm:
            problems.append(Problem(
                path, f"{where}.near_cm",
                f"{item.near_cm:g} cm is not nearer than far_cm = {item.far_cm:g} cm"))
        return
    if item.pin is not None:
        problems.append(Problem(path, f"{where}.pin", "an analog sensor is read through its "
                                "ADC's SPI lines (GPIO 7 to 11), not a pin of its own; remove pin"))
    if item.adc is None:
        problems.append(Problem(path, f"{where}.adc",
                                f"an analog sensor needs its ADC chip; allowed: "
                                f"{', '.join(ADC_CHANNELS)}"))
    if item.channel is None:
        problems.append(Problem(path, f"{where}.channel",
                                "an analog sensor needs the ADC channel it is wired to (0-7)"))
        return
    place = (item.spi_device, item.channel)
    if place in adc_channels:
        problems.append(Problem(path, f"{where}.channel",
                                f"channel {item.channel} of the ADC on CE{item.spi_device} is "
                                f"already read by input {adc_channels[place]!r}"))
    adc_channels[place] = item.name
    lines = {**SPI0_PINS, f"CE{item.spi_device}": SPI0_CHIP_SELECT[item.spi_device]}
    for line, pin in lines.items():
        owner = pin_owner.get(pin)
        if owner is None:
            pin_owner[pin] = f"the ADC's SPI line {line}"
        elif not owner.startswith("the ADC's SPI"):
            problems.append(Problem(path, f"{where}.adc",
                                    f"the ADC's SPI line {line} is GPIO{pin}, already used by "
                                    f"{owner}"))


def _check_usb(path: Path, where: str, item: InputConfig, problems: list[Problem]) -> None:
    if item.kind != "usb-switch":
        for key in ("device", "code"):
            if getattr(item, key) is not None:
                problems.append(Problem(path, f"{where}.{key}", f"only a usb-switch has a {key}"))
        return
    if item.pin is not None:
        problems.append(Problem(path, f"{where}.pin", "a usb-switch has no GPIO pin; remove pin"))
    if item.device is None:
        problems.append(Problem(
            path, f"{where}.device", "a usb-switch needs its device name (as `evtest` lists it)"
        ))
    if item.code is None:
        problems.append(Problem(
            path,
            f"{where}.code",
            "a usb-switch needs the key or button it sends, e.g. \"KEY_SPACE\" or \"BTN_0\"",
        ))
    else:
        try:
            from evdev import ecodes
        except ImportError:  # evdev builds on Linux only; the pattern check still ran
            return
        if item.code not in ecodes.ecodes:
            names = [name for name in ecodes.ecodes if name.startswith(("KEY_", "BTN_"))]
            problems.append(Problem(
                path,
                f"{where}.code",
                f"no key or button {item.code!r}{did_you_mean(item.code, names)}",
            ))


def _check_role(path: Path, where: str, item: InputConfig, problems: list[Problem]) -> None:
    if item.role == "play":
        if item.action is not None:
            problems.append(Problem(
                path,
                f"{where}.action",
                "only a control has an action; set role = \"control\" or remove action",
            ))
        if item.kind == "rotary-encoder":
            problems.append(Problem(
                path,
                f"{where}.role",
                "a rotary encoder is a control; set role = \"control\" and "
                "action = \"volume\"",
            ))
        return
    if item.action is None:
        problems.append(Problem(
            path,
            f"{where}.action",
            f"a control needs an action; allowed: {', '.join(CONTROL_ACTIONS)}",
        ))
    elif (item.action == "volume") != (item.kind == "rotary-encoder"):
        problems.append(Problem(
            path,
            f"{where}.action",
            "action \"volume\" goes with kind \"rotary-encoder\" (and an encoder only does "
            "volume); buttons use volume-up / volume-down",
        ))
    if item.kind == "rotary-encoder" and item.pin_b is None:
        problems.append(
            Problem(path, f"{where}.pin_b", "a rotary encoder needs its second pin (B)")
        )
    if item.kind != "rotary-encoder" and item.pin_b is not None:
        problems.append(Problem(path, f"{where}.pin_b", "only a rotary encoder has a second pin"))


def _check_mqtt_files(path: Path, config: StationConfig, problems: list[Problem]) -> None:
    mqtt = config.mqtt
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(mqtt, key)
        if value and not (path.parent / Path(value).expanduser()).is_file():
            problems.append(Problem(
                path, f"mqtt.{key}", f"file not found: {value!r} (relative to {path.parent})"
            ))
    if bool(mqtt.cert_file) != bool(mqtt.key_file):
        problems.append(
            Problem(path, "mqtt.cert_file and mqtt.key_file", "give both or neither")
        )
