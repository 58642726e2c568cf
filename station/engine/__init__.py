"""The engine process: switches in, sound out, events handed to the durable log.

`build.build_engine` wires the production parts together; `process.EngineProcess` runs them.
Per press the engine does only the access-filter decision, the pyo call and a queue put
(`press.PressPath`); MQTT, JSON and everything else slow lives in the telemetry agent's
process (docs/architecture.md). Nothing is imported here, so that the agent and the CLI can
use the control socket without loading pyo.
"""
