"""Sound: the pyo server, instruments, sound sets and the safety chain."""

import os

# pyo looks for wxPython when imported and prints a long notice when it is missing; the station
# has no GUI, so tell it not to look. libjack must never start a JACK server of its own.
os.environ.setdefault("PYO_GUI_WX", "0")
os.environ.setdefault("JACK_NO_START_SERVER", "1")
