"""The reference for `station bench latency`: the least a gpiozero + pyo program can do.

A mock GPIO button whose callback triggers an envelope on a hi-hat-like noise, on a JACK
server, driven by `press` / `release` lines on stdin. Run by the benchmark as
`python -m station.bench._reference_synth`; not a benchmark itself (the leading underscore
keeps it out of `station bench`).
"""

from __future__ import annotations

import os
import sys

JACK_NAME = "latency-reference"
PIN = 17


def main() -> None:
    os.environ.setdefault("PYO_GUI_WX", "0")
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    import pyo
    from gpiozero import Button
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    server = pyo.Server(sr=48000, nchnls=2, buffersize=64, duplex=0, audio="jack",
                        jackname=JACK_NAME)
    server.deactivateMidi()
    server.boot()
    server.start()
    envelope = pyo.Adsr(attack=0.005, decay=0.05, sustain=0.0, release=0.03, dur=0, mul=0.15)
    sound = pyo.ButHP(pyo.Noise(), freq=7000, mul=envelope).mix(2).out()
    button = Button(PIN, pin_factory=factory)
    button.when_pressed = lambda: envelope.play()
    pin = factory.pin(PIN)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "press":
            pin.drive_low()
        elif line.strip() == "release":
            pin.drive_high()
    button.close()
    sound.stop()
    server.stop()
    server.shutdown()


if __name__ == "__main__":
    main()
