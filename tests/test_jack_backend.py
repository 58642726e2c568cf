"""The engine on a real-time JACK server (the dummy driver: no sound card needed)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.contract.topics import Topics
from tests.conftest import SHIPPED_CONFIG

pytestmark = pytest.mark.realtime

RATE = 48000
PERIOD = 64


def start_jackd(name: str) -> subprocess.Popen[bytes]:
    """jackd with the dummy driver under `name`, once it answers."""
    from station.bench._jack import start_jackd as start

    try:
        return start(name)
    except RuntimeError as error:
        pytest.fail(f"{error} (run 'make test': it installs jackd2 as root)")


def start_named_jackd() -> tuple[str, subprocess.Popen[bytes]]:
    """jackd with the dummy driver under a test server name no running server has."""
    from station.bench._jack import start_dummy_jackd

    try:
        return start_dummy_jackd("station-test")
    except RuntimeError as error:
        pytest.fail(f"{error} (run 'make test': it installs jackd2 as root)")


def stop_jackd(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


@pytest.fixture
def jack_server() -> Iterator[str]:
    """A jackd with the dummy driver under a name of its own; yields the server name."""
    name, process = start_named_jackd()
    yield name
    stop_jackd(process)


class OutputListener:
    """A JACK client whose input port listens to the engine's first output port."""

    def __init__(self, server: str) -> None:
        import jack

        self.client = jack.Client("listener", servername=server, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.loud_since: int | None = None  # JACK frame time of the first non-silent block
        self.heard = threading.Event()
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        if self.loud_since is None:
            buffer = memoryview(self.port.get_buffer()).cast("f")
            if max(abs(x) for x in buffer) > 1e-4:
                self.loud_since = self.client.last_frame_time
                self.heard.set()

    def connect(self, source: str) -> None:
        self.client.connect(source, self.port)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def test_auto_backend_plays_through_a_running_jack_server(
    jack_server: str, station_config: Any, mosquitto: Any, subscriber_factory: Any
) -> None:
    path = station_config({"mqtt.host": "127.0.0.1", "mqtt.port": mosquitto.port,
                           "audio.backend": "auto"})
    config = load_station(path).config
    topics = Topics(config.mqtt.topic_root, config.station.site, config.station.id)
    subscriber = subscriber_factory(mosquitto.port, [topics.events])
    station = subprocess.Popen(
        [sys.executable, "-m", "station", "run", "--simulate", "--config", str(path)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JACK_DEFAULT_SERVER": jack_server},
    )
    assert station.stdin is not None
    listener = OutputListener(jack_server)
    try:
        start = subscriber.wait_for_events(
            topics.events, lambda events: any(e["type"] == "session_start" for e in events), 30
        )[0]
        assert start["detail"]["audio_backend"] == "jack"
        listener.connect(f"sensory-station-{config.station.id}:output_1")
        assert not listener.heard.is_set(), "silent until a press"
        station.stdin.write("press big-red\n")
        station.stdin.flush()
        assert listener.heard.wait(5), "the press was not heard at the engine's JACK output"
    finally:
        listener.close()
        station.send_signal(signal.SIGTERM)
        _, log = station.communicate(timeout=20)
    assert station.returncode == 0, log


def test_xruns_on_the_jack_server_are_counted(
    jack_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import jack

    from station.config import AudioSection
    from station.sound.server import AudioServer

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    audio = AudioServer(AudioSection(backend="jack"), jack_name="xrun-test")
    audio.start()
    hog = jack.Client("hog", servername=jack_server, no_start_server=True)
    overruns = {"left": 3}

    def overrun_the_period(frames: int) -> None:
        # Blocks JACK's process thread for 5 ms of a 1.3 ms period, three times: the server
        # must report xruns. (A sleep, not a busy loop: a loop holding the GIL here could
        # stall the test's own call to deactivate.)
        if overruns["left"]:
            overruns["left"] -= 1
            time.sleep(0.005)

    try:
        # On a busy machine jackd without real-time priority has xruns of its own: count on
        # from wherever the counter stands.
        assert audio.xruns is not None
        before = audio.xruns
        hog.set_process_callback(overrun_the_period)
        hog.activate()
        counted = threading.Event()
        for _ in range(100):
            if audio.xruns > before or counted.wait(0.05):
                break
        assert audio.xruns > before
    finally:
        hog.deactivate()
        hog.close()
        audio.stop()


def test_a_lost_jack_server_is_retried_and_the_sound_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from station.config import AudioSection
    from station.sound.output import LOST, PLAYING, AudioOutput

    shipped = load_station(SHIPPED_CONFIG / "station.toml")
    name, first = start_named_jackd()
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    second = None
    output = AudioOutput(AudioSection(backend="jack"), shipped.sound_set, shipped.client, [],
                         jack_name="loss-test")
    try:
        assert output.state == PLAYING
        stop_jackd(first)  # the device goes away
        noticed = threading.Event()
        for _ in range(100):
            if not output.audio.healthy or noticed.wait(0.05):
                break
        output.check(now=100.0)
        assert output.state == LOST
        assert output.press(1) is False, "a press while the audio is lost plays nothing"

        output.check(now=101.0)  # the first retry, one second later: still no server
        assert output.state == LOST
        second = start_jackd(name)
        output.check(now=102.5)  # the next retry waits two seconds, not one
        assert output.state == LOST
        output.check(now=103.0)
        assert output.state == PLAYING

        listener = OutputListener(name)
        try:
            listener.connect("loss-test:output_1")
            assert output.press(1)
            assert listener.heard.wait(5), "the sound did not come back"
        finally:
            listener.close()
    finally:
        output.release_all()
        output.audio.stop()
        stop_jackd(first)
        if second is not None:
            stop_jackd(second)


def test_a_frozen_audio_device_is_noticed_by_the_stall_watch_and_the_sound_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SIGSTOPped jackd stops asking its clients for audio, as a PortAudio stream whose USB
    sound card was unplugged does: pyo's server still says it is started."""
    import time

    from station.config import AudioSection
    from station.sound.output import LOST, PLAYING, AudioOutput
    from station.sound.server import STALL_SECONDS

    shipped = load_station(SHIPPED_CONFIG / "station.toml")
    name, device = start_named_jackd()
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    output = AudioOutput(AudioSection(backend="jack"), shipped.sound_set, shipped.client, [],
                         jack_name="stall-test")
    lost_server = output.audio
    polled = threading.Event()  # never set: its wait() is the polling interval
    try:
        # The stall is timed from the last check that saw the counter move: this one at the
        # latest.
        frozen_at = time.monotonic()
        output.check(now=frozen_at)
        assert output.state == PLAYING and output.problem is None
        os.kill(device.pid, signal.SIGSTOP)  # the device freezes
        lost_at = frozen_at
        while output.state == PLAYING and lost_at - frozen_at < STALL_SECONDS + 5:
            assert lost_server.healthy, "pyo still says its server is started"
            polled.wait(0.1)
            lost_at = time.monotonic()
            output.check(now=lost_at)
        assert output.state == LOST
        assert output.problem is not None and output.problem.startswith(
            "stalled: no audio block for ")
        assert time.monotonic() - frozen_at >= STALL_SECONDS, "lost only after the stall time"
        assert output.press(1) is False, "a press while the audio is lost plays nothing"

        output.check(now=lost_at + 1.0)  # the first retry: the device is still frozen
        assert output.state == LOST
        assert not output.torn_down(0.1), "the lost server cannot shut down while frozen"
        os.kill(device.pid, signal.SIGCONT)  # the device comes back
        assert output.torn_down(10), "the lost server did not shut down once the device came back"
        output.check(now=lost_at + 2.9)  # the next retry waits two seconds, not one
        assert output.state == LOST
        output.check(now=lost_at + 3.0)
        assert output.state == PLAYING and output.problem is None
        assert output.audio is not lost_server

        listener = OutputListener(name)
        try:
            listener.connect("stall-test:output_1")
            assert output.press(1)
            assert listener.heard.wait(5), "the sound did not come back"
        finally:
            listener.close()
        output.check()
        assert output.state == PLAYING, "a server that plays again is not stalled"
    finally:
        os.kill(device.pid, signal.SIGCONT)
        output.release_all()
        output.audio.stop()
        stop_jackd(device)


def _loudest_sample(recording: Path) -> float:
    """The loudest sample of a 24-bit WAV file, as a fraction of full scale."""
    import wave

    with wave.open(str(recording)) as wav:
        frames = wav.readframes(wav.getnframes())
    return max((abs(int.from_bytes(frames[i:i + 3], "little", signed=True))
                for i in range(0, len(frames), 3)), default=0) / 2**23


def test_a_recording_goes_on_in_a_new_part_after_the_audio_device_comes_back(
    station_config: Any,
) -> None:
    from station.engine.control_socket import ControlError, send_command

    path = station_config({"audio.backend": "jack"})
    data_dir = load_station(path).data_dir
    name, first = start_named_jackd()
    second = None
    engine = subprocess.Popen(
        [sys.executable, "-m", "station", "engine", "--simulate", "--config", str(path)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JACK_DEFAULT_SERVER": name},
    )
    assert engine.stdin is not None
    polled = threading.Event()  # never set: its wait() is the polling interval

    def state_when(condition: Any, timeout: float) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for _ in range(int(timeout * 10)):
            with contextlib.suppress(ControlError):
                state = send_command(data_dir, {"command": "status"}, timeout=1)["state"]
            if state and condition(state):
                return state
            polled.wait(0.1)
        pytest.fail(f"the engine did not get there within {timeout} s; last state {state}")

    def press_and_let_ring() -> None:
        engine.stdin.write("press big-red\nrelease big-red\n")
        engine.stdin.flush()
        polled.wait(0.5)

    try:
        state_when(lambda state: state["audio"] == "playing", 30)
        started = send_command(data_dir, {"command": "start_recording"})
        assert started["ok"], started
        first_part = data_dir / "recordings" / started["state"]["recording"]
        press_and_let_ring()

        stop_jackd(first)  # the sound card goes away mid-recording
        lost = state_when(lambda state: state["audio"] == "lost", 15)
        assert lost["recording"] == first_part.name
        refused = send_command(data_dir, {"command": "start_recording"})
        assert refused["ok"] is False and "already recording" in refused["error"]

        second = start_jackd(name)  # and comes back
        back = state_when(lambda state: state["audio"] == "playing", 40)
        second_part = first_part.with_name(f"{first_part.stem}-part2.wav")
        assert back["recording"] == second_part.name
        press_and_let_ring()
        stopped = send_command(data_dir, {"command": "stop_recording"})
        assert stopped["ok"] and stopped["state"]["recording"] == ""

        stop_jackd(second)  # lost again: a new recording would record nothing
        state_when(lambda state: state["audio"] == "lost", 15)
        refused = send_command(data_dir, {"command": "start_recording"})
        assert refused["ok"] is False and refused["error"].startswith("the audio is lost (")
    finally:
        engine.send_signal(signal.SIGTERM)
        _, log = engine.communicate(timeout=30)
        stop_jackd(first)
        if second is not None:
            stop_jackd(second)
    assert "continues in " + second_part.name in log
    # Each part holds the press played while it was being recorded.
    assert _loudest_sample(first_part) > 1e-3, "the press before the loss was recorded"
    assert _loudest_sample(second_part) > 1e-3, "the press after the loss was recorded"


def test_auto_passes_over_a_running_jack_server_that_this_pyo_cannot_play_on(
    jack_server: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """pip builds pyo without JACK unless asked: the station then says so and plays through
    PortAudio (here: no sound card, so the paced null backend) instead of failing to start."""
    from station.config import AudioSection
    from station.errors import AudioError
    from station.sound.server import choose_backend

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    with caplog.at_level("WARNING", logger="station.sound.server"):
        assert choose_backend(AudioSection(backend="auto"), pyo_has_jack=True) == "jack"
        assert caplog.messages == []
        assert choose_backend(AudioSection(backend="auto"), pyo_has_jack=False) in (
            "portaudio", "null")
    assert caplog.messages == [
        "audio: a JACK server is running, but this pyo was built without JACK support, so it "
        "cannot play on the JACK server; rebuild it with JACK (scripts/install-pi.sh does); "
        "trying PortAudio instead"]
    with pytest.raises(AudioError) as refused:
        choose_backend(AudioSection(backend="jack"), pyo_has_jack=False)
    assert str(refused.value) == (
        'audio.backend = "jack": this pyo was built without JACK support, so it cannot play '
        'on the JACK server; rebuild it with JACK (scripts/install-pi.sh does), or set '
        'audio.backend to "auto" to play through PortAudio')
