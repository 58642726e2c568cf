"""Commanding a running engine through its control socket, as the agent and staff do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import load_station
from station.engine.control_socket import ControlError, send_command
from station.telemetry.eventlog import iterate_all


@pytest.fixture
def running_engine(station_config: Any) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """`station engine --simulate` on a copy of the shipped config: (data_dir, process)."""
    path = station_config({"audio.backend": "null"})
    data_dir = load_station(path).data_dir
    process = subprocess.Popen(
        [sys.executable, "-m", "station", "engine", "--simulate", "--config", str(path)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    waited = threading.Event()
    for _ in range(150):
        try:
            send_command(data_dir, {"command": "status"}, timeout=0.2)
            break
        except ControlError:
            if process.poll() is not None or waited.wait(0.1):
                break
    else:
        process.kill()
        pytest.fail(f"the engine did not open its control socket: {process.communicate()[1]}")
    yield data_dir, process
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)


@pytest.fixture
def engine(running_engine: tuple[Path, subprocess.Popen[str]]) -> Path:
    """The running engine's data directory (where its control socket is)."""
    return running_engine[0]


def _control(config: Path, *words: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "station", "control", "--config", str(config), *words],
        capture_output=True, text=True, timeout=30,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_commands_change_the_running_engine_and_are_recorded(engine: Path) -> None:
    reply = send_command(engine, {"command": "select_client", "client": "C-2M9Q", "id": "a1"})
    assert reply == {"ok": True, "id": "a1", "state": {
        "client": "C-2M9Q", "sound_set": "calm-bells", "volume": 1.0,
        "session": reply["state"]["session"], "audio_backend": "null", "audio": "playing",
        "audio_problem": None, "xruns": reply["state"]["xruns"], "recording": "", "cue": "",
        "activity": ""}}
    assert send_command(engine, {"command": "select_sound_set", "sound_set": "warm-strings"})["ok"]
    assert send_command(engine, {"command": "set_volume", "volume": 0.5})["state"]["volume"] == 0.5
    assert send_command(engine, {"command": "end_session"})["state"]["session"] == ""
    started = send_command(engine, {"command": "start_session"})["state"]["session"]
    assert started

    events = [(e.type, e.client, e.sound_set, e.detail) for e in iterate_all(engine)]
    assert ("client_changed", "C-2M9Q", "calm-bells", {"client": "C-2M9Q"}) in events
    assert ("sound_set_changed", "C-2M9Q", "warm-strings", {"sound_set": "warm-strings"}) in events
    assert ("volume_changed", "C-2M9Q", "warm-strings", {"volume": 0.5}) in events
    last_start = [e for e in iterate_all(engine) if e.type == "session_start"][-1]
    assert (last_start.session, last_start.client) == (started, "C-2M9Q")


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ({"command": "select_client", "client": "C-ZZZZ"},
         "no client profile 'C-ZZZZ'; available: C-2M9Q, C-7F3K"),
        # The command schemas check every value, with the words of a refusal over MQTT.
        ({"command": "select_client", "client": "Anna"},
         "client: 'Anna' is not a client pseudonym; use a code like 'C-7F3K', never a real name"),
        ({"command": "select_sound_set", "sound_set": 7}, "sound_set: 7 is not of type 'string'"),
        ({"command": "set_volume", "volume": 1.5}, "volume: 1.5 is greater than the maximum of 1"),
        ({"command": "set_volume", "volume": True}, "volume: True is not of type 'number'"),
        ({"command": "start_session"}, "is running; end it first"),
        ({"command": "dance"}, "unknown command 'dance'; commands: calibrate_sensor, cancel_cue, "
         "cue, end_session, reload, replay, select_client, select_sound_set, set_volume, "
         "start_activity, start_recording, start_session, status, stop_activity, stop_recording, "
         "tag_observation"),
        ({"command": "replay", "from_seq": 1, "to_seq": 2},
         "replay is answered by the telemetry agent over MQTT, not by the engine"),
        ([1, 2], "a command is a JSON object"),
    ],
)
def test_bad_commands_are_refused_with_a_reason_and_change_nothing(
    engine: Path, command: Any, error: str
) -> None:
    def settings() -> dict[str, Any]:
        # xruns are left out: a busy test machine makes the null backend late now and then.
        state = send_command(engine, {"command": "status"})["state"]
        return {key: value for key, value in state.items() if key != "xruns"}

    before = settings()
    reply = send_command(engine, command)
    assert reply["ok"] is False
    assert error in reply["error"]
    assert settings() == before


def test_a_broken_config_on_reload_keeps_the_running_settings(
    engine: Path, station_config: Any
) -> None:
    config = station_config()
    assert send_command(engine, {"command": "select_sound_set", "sound_set": "warm-strings"})["ok"]
    sound_set = config.parent / "sound-sets" / "warm-strings.toml"
    sound_set.write_text(sound_set.read_text().replace('scale = "dorian"', 'scale = "dorain"'))

    code, reply = _control(config, "reload")
    assert code == 1
    assert reply["error"] == "reload refused"
    assert any("sound_set.scale: no scale 'dorain'" in p and "did you mean 'dorian'?" in p
               for p in reply["problems"])
    assert reply["state"]["sound_set"] == "warm-strings"

    code, reply = _control(config, "status")
    assert code == 0 and reply["state"]["sound_set"] == "warm-strings"


def test_a_sample_file_that_cannot_be_decoded_on_reload_keeps_the_running_settings(
    engine: Path, station_config: Any
) -> None:
    config = station_config()
    assert send_command(engine, {"command": "select_sound_set", "sound_set": "soundscape"})["ok"]
    bird = config.parent / "sound-sets" / "samples" / "bird.wav"
    bird.write_bytes(b"this is not a wave file")

    code, reply = _control(config, "reload")
    assert code == 1
    assert reply["problems"] == [
        f"sound set 'soundscape': samples.bird: sample {bird}: cannot be read as a sound file "
        "(WAV, FLAC, OGG or AIFF)"
    ]
    assert reply["state"]["sound_set"] == "soundscape"


def test_station_control_without_a_running_engine_says_so(station_config: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "station", "control", "--config", str(station_config()),
         "status"], capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "no engine is running for" in result.stderr
    assert "is the station running with this config?" in result.stderr


def test_recording_by_command_writes_what_was_played_to_the_recordings_folder(
    running_engine: tuple[Path, subprocess.Popen[str]], station_config: Any
) -> None:
    engine, process = running_engine
    config = station_config()
    code, reply = _control(config, "start-recording")
    assert code == 0
    name = reply["state"]["recording"]
    assert name.endswith(f"-{reply['state']['session']}.wav")
    again = send_command(engine, {"command": "start_recording"})
    assert again["ok"] is False and f"already recording to {name}" in again["error"]

    assert process.stdin is not None
    process.stdin.write("press big-red\n")
    process.stdin.flush()
    # The press is recorded once its event is in the log: then the note is sounding.
    for _ in range(100):
        if any(e.type == "press" for e in iterate_all(engine)):
            break
        threading.Event().wait(0.05)
    threading.Event().wait(0.3)  # let the note ring into the recording
    code, reply = _control(config, "stop-recording")
    assert code == 0 and reply["state"]["recording"] == ""
    recording = engine / "recordings" / name
    with wave.open(str(recording)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 48000
        frames = wav.readframes(wav.getnframes())
    loudest = max(abs(int.from_bytes(frames[i:i + 3], "little", signed=True))
                  for i in range(0, len(frames), 3))
    assert loudest > 1e-3 * 2**23, "the press was recorded"
    again = send_command(engine, {"command": "stop_recording"})
    assert again == {"ok": False, "error": "nothing is being recorded"}


def test_station_control_tags_an_observation_in_the_running_session(
    engine: Path, station_config: Any
) -> None:
    config = station_config()
    code, reply = _control(config, "tag-observation", "independent", "--note", "reached alone")
    assert code == 0 and reply["ok"], reply
    code, reply = _control(config, "tag-observation", "--note", "smiled at the drum")
    assert code == 0 and reply["ok"], reply
    code, reply = _control(config, "tag-observation", "helped")
    assert code == 1 and reply["ok"] is False
    assert ("tag: 'helped' is not one of ['independent', 'gestural', 'verbal', 'model', "
            "'partial-physical', 'full-physical', 'hand-over-hand', 'prompted']"
            in reply["error"])
    # Refused here exactly as over MQTT (tests/telemetry/test_commands.py): the same schema.
    code, reply = _control(config, "tag-observation", "--note", "two\nlines")
    assert code == 1 and reply["error"] == (
        "note: 'two\\nlines' must not contain control characters (such as new lines)"
    )

    observations = [e.detail for e in iterate_all(engine) if e.type == "observation"]
    assert observations == [
        {"tag": "independent", "note": "reached alone"}, {"note": "smiled at the drum"},
    ], "the refused tag and the two-line note recorded nothing"


def test_station_control_sounds_a_cue_on_several_targets_and_refuses_one_outside_a_session(
    engine: Path, station_config: Any
) -> None:
    config = station_config()
    code, reply = _control(config, "cue", "big-red", "head-switch", "--window_seconds", "2",
                           "--recues", "1")
    assert code == 0 and reply["ok"], reply
    waiting = reply["state"]["cue"]
    assert waiting, "the state names the cue that waits for its answer"
    code, reply = _control(config, "cue", "big-blue")
    assert code == 1 and f"cue {waiting} is still waiting" in reply["error"]
    code, reply = _control(config, "cancel-cue")
    assert code == 0 and reply["state"]["cue"] == ""
    cues = [e for e in iterate_all(engine) if e.type == "cue"]
    assert len(cues) == 1 and cues[0].detail["targets"] == ["big-red", "head-switch"]

    assert _control(config, "end-session")[1]["ok"]
    code, reply = _control(config, "cue", "big-red")
    assert code == 1 and reply["error"] == "cue: no session is running; start one first"


def test_station_control_runs_an_activity_and_refuses_a_cue_of_its_own_meanwhile(
    engine: Path, station_config: Any
) -> None:
    config = station_config()
    code, reply = _control(config, "start-activity", "play-when-you-hear")
    assert code == 0 and reply["state"]["activity"] == "play-when-you-hear", reply
    code, reply = _control(config, "cue", "big-red")
    assert code == 1 and reply["error"] == ("activity play-when-you-hear is sounding its own "
                                            "cues; stop it first")
    code, reply = _control(config, "stop-activity")
    assert code == 0 and reply["state"]["activity"] == "" and reply["state"]["cue"] == ""
    code, reply = _control(config, "start-activity", "dancing")
    assert code == 1 and reply["error"] == ("no activity 'dancing'; available: "
                                            "call-and-response, head-switch-slow, "
                                            "play-when-you-hear")
    cues = [e for e in iterate_all(engine) if e.type == "cue"]
    assert [cue.detail["activity"] for cue in cues] == ["play-when-you-hear"]
