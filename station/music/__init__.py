"""Music: the vocabulary of sound sets (scales and chords, the instrument catalogue, MIDI files).

Pure Python at the bottom of the house: it imports nothing from the station, and never pyo, so
that config validation and the sound engine share it without booting an audio server.
"""
