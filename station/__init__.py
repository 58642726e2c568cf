"""Sensory Music Station: adaptive switches in, pyo sound out, engagement data over MQTT."""

__version__ = "0.1.0"
