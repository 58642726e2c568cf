"""What a user would pick instead of the station, for `station bench latency --peers`: Pure Data
and SuperCollider's server, each playing the reference's hi-hat (high-passed noise, a 5 ms
attack) on the same JACK server, triggered by the same piped `press` line through the
smallest glue each allows.

* **Pd** (Debian's `puredata-core`, `puredata-utils`): `pd -nogui -jack -callback` with the
  patch below; the press line goes to Pd's own `pdsend`, which sends it to the patch's
  `[netreceive -u]` as a FUDI message. `-callback` makes Pd compute in JACK's callback;
  without it Pd adds a buffer of its own.
* **scsynth** (Debian's `supercollider-server`): the server alone, with no language. This
  module is its glue (`python -m station.bench._peers scsynth PORT`): it starts scsynth,
  sends it the hi-hat's SynthDef (encoded here: scsynth reads compiled SynthDefs only, and
  the compiler is the language), and turns each `press` line into an OSC `/s_new`.

Not a benchmark itself (the leading underscore keeps it out of `station bench`).
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# -- Pure Data ------------------------------------------------------------------------------

# [netreceive -u PORT] -> [route press] -> [1, 0 30 5( -> [vline~]  x  [noise~] -> [hip~ 7000]
# -> [dac~]; and [loadbang] -> [; pd dsp 1(, since Pd starts with its audio off.
PD_PATCH = """#N canvas 0 0 450 300 12;
#X obj 10 10 netreceive -u {port};
#X obj 10 40 route press;
#X msg 10 70 0.15 5 \\, 0 30 5;
#X obj 10 100 vline~;
#X obj 100 70 noise~;
#X obj 100 100 hip~ 7000;
#X obj 10 130 *~;
#X obj 10 160 dac~;
#X obj 200 10 loadbang;
#X msg 200 40 \\; pd dsp 1;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 6 0;
#X connect 4 0 5 0;
#X connect 5 0 6 1;
#X connect 6 0 7 0;
#X connect 6 0 7 1;
#X connect 8 0 9 0;
"""
PD_JACK_NAME = "latency-pd"


@dataclass(frozen=True)
class Peer:
    """How `station bench latency` runs and presses one peer."""

    name: str
    command: list[str]
    port: str
    press: str
    release: str
    ready_line: str | None


def missing_programs(names: Sequence[str]) -> list[str]:
    """The Debian packages to install for the peers `names` that are not installed."""
    needs = {"pd": {"pd": "puredata-core", "pdsend": "puredata-utils"},
             "scsynth": {"scsynth": "supercollider-server"}}
    return sorted({package for name in names for program, package in needs[name].items()
                   if shutil.which(program) is None})


def pd_peer(folder: Path, port: int) -> Peer:
    patch = folder / "latency-peer.pd"
    patch.write_text(PD_PATCH.format(port=port))
    pd = (f"pd -nogui -stderr -jack -callback -nomidi -inchannels 0 -outchannels 2 "
          f"-jackname {PD_JACK_NAME} {patch}")
    # Pd in the background, pdsend in front reading the benchmark's lines (FUDI: a message
    # ends with ';'). The benchmark waits for Pd's JACK port before its first press.
    return Peer("pd", ["bash", "-c", f'{pd} & trap "kill $!" EXIT; pdsend {port} 127.0.0.1 udp'],
                f"{PD_JACK_NAME}:output_1", "press;", "release;", None)


def scsynth_peer(port: int) -> Peer:
    return Peer("scsynth", [sys.executable, "-m", "station.bench._peers", "scsynth", str(port)],
                "SuperCollider:out_1", "press", "release", "ready")


# -- SuperCollider: OSC and a compiled SynthDef ---------------------------------------------

def _padded(data: bytes) -> bytes:
    return data + b"\0" * (4 - len(data) % 4)


def osc_message(address: str, *arguments: int | float | str | bytes) -> bytes:
    """One OSC message (int32, float32, string and blob arguments)."""
    tags, body = ",", b""
    for argument in arguments:
        if isinstance(argument, bool) or not isinstance(argument, (int, float, str, bytes)):
            raise TypeError(f"no OSC type for {argument!r}")
        if isinstance(argument, int):
            tags, body = tags + "i", body + struct.pack(">i", argument)
        elif isinstance(argument, float):
            tags, body = tags + "f", body + struct.pack(">f", argument)
        elif isinstance(argument, str):
            tags, body = tags + "s", body + _padded(argument.encode())
        else:
            blob = struct.pack(">i", len(argument)) + argument
            tags, body = tags + "b", body + blob + b"\0" * (-len(blob) % 4)
    return _padded(address.encode()) + _padded(tags.encode()) + body


def _pstring(text: str) -> bytes:
    return struct.pack(">B", len(text)) + text.encode()


AUDIO, CONTROL, SCALAR = 2, 1, 0


def hihat_synthdef(name: str = "latency-hat") -> bytes:
    """A SynthDef file (SCgf version 2) of `Out.ar(0, HPF.ar(WhiteNoise.ar, 7000) *
    EnvGen.ar(Env([0, 0.15, 0], [0.005, 0.03]), doneAction: 2) ! 2)`: the reference's sound."""
    constants = [7000.0, 1.0, 0.0, 2.0, -99.0, 0.15, 0.005, 0.03]

    def const(value: float) -> tuple[int, int]:
        return (-1, constants.index(value))

    # (class, rate, inputs, outputs, special index); an input is (ugen, output) or a const.
    envelope = [const(0.0), const(2.0), const(-99.0), const(-99.0),  # start, stages, nodes
                const(0.15), const(0.005), const(1.0), const(0.0),  # to 0.15 in 5 ms, linear
                const(0.0), const(0.03), const(1.0), const(0.0)]    # to 0 in 30 ms, linear
    ugens: list[tuple[str, int, list[tuple[int, int]], int, int]] = [
        ("WhiteNoise", AUDIO, [], 1, 0),
        ("HPF", AUDIO, [(0, 0), const(7000.0)], 1, 0),
        # gate, levelScale, levelBias, timeScale, doneAction (2: free the synth), envelope
        ("EnvGen", AUDIO, [const(1.0), const(1.0), const(0.0), const(1.0), const(2.0),
                           *envelope], 1, 0),
        ("BinaryOpUGen", AUDIO, [(1, 0), (2, 0)], 1, 2),  # special index 2: '*'
        ("Out", AUDIO, [const(0.0), (3, 0), (3, 0)], 0, 0),
    ]
    body = _pstring(name) + struct.pack(">i", len(constants))
    body += b"".join(struct.pack(">f", value) for value in constants)
    body += struct.pack(">ii", 0, 0)  # no parameters, no parameter names
    body += struct.pack(">i", len(ugens))
    for kind, rate, inputs, outputs, special in ugens:
        body += _pstring(kind) + struct.pack(">biih", rate, len(inputs), outputs, special)
        body += b"".join(struct.pack(">ii", ugen, index) for ugen, index in inputs)
        body += bytes([rate]) * outputs
    body += struct.pack(">h", 0)  # no variants
    return b"SCgf" + struct.pack(">ih", 2, 1) + body


def run_scsynth(port: int) -> None:
    """Start scsynth on `port`, load the hi-hat, then one `/s_new` per `press` line."""
    server = subprocess.Popen(["scsynth", "-u", str(port), "-i", "0", "-o", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    try:
        for line in server.stdout:
            if "server ready" in line:
                break
        else:
            raise SystemExit("scsynth stopped before it was ready")
        # Keep reading what it prints, so that a full pipe never stalls it.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        link = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        link.connect(("127.0.0.1", port))
        link.settimeout(10)
        link.send(osc_message("/d_recv", hihat_synthdef()))
        answer = link.recv(1024)
        if not answer.startswith(b"/done"):
            raise SystemExit(f"scsynth did not take the SynthDef: {answer!r}")
        new_synth = osc_message("/s_new", "latency-hat", -1, 0, 0)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "press":
                link.send(new_synth)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["scsynth"] and len(sys.argv) == 3:
        run_scsynth(int(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m station.bench._peers scsynth PORT")
