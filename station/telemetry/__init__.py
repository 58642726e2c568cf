"""Telemetry: the durable event log, the MQTT agent, the topic contract, the embedded broker."""
