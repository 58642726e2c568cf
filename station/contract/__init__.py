"""The station's contracts as pure data: event types, topic names, JSON Schemas, commands.

The lowest package of the house: it imports nothing of the station's own, so the engine, the
telemetry agent, the CLI and the dashboard all take every contract from here.
"""
