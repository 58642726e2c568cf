"""Home Assistant MQTT discovery (opt-in: ``mqtt.homeassistant_discovery = true``).

The station appears as one device, available while its ``status`` is ``online``, with its
session state and counts as sensors and each input's presses as device triggers. The
configs are retained and published again whenever Home Assistant announces ``online`` on
its status topic (after a restart it may have lost them).
"""

from __future__ import annotations

from typing import Any

from station import __version__
from station.contract.topics import OFFLINE, ONLINE, Topics

# (object id, name, state topic attribute, value template, extra keys)
_SENSORS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("session", "Session", "state", "{{ value_json.session if value_json.session else 'none' }}",
     {"icon": "mdi:timer-play-outline"}),
    ("client", "Client", "state", "{{ value_json.client }}", {"icon": "mdi:account"}),
    ("sound_set", "Sound set", "state", "{{ value_json.sound_set }}", {"icon": "mdi:music"}),
    ("volume", "Volume", "state", "{{ (value_json.volume * 100) | round(0) }}",
     {"unit_of_measurement": "%", "icon": "mdi:volume-high"}),
    ("presses", "Presses this session", "aggregates", "{{ value_json.accepted }}",
     {"state_class": "total_increasing", "icon": "mdi:gesture-tap-button"}),
    ("rejected", "Rejected presses this session", "aggregates",
     "{{ value_json.rejected.values() | sum }}", {"state_class": "total_increasing"}),
    ("presses_per_minute", "Presses per minute", "aggregates",
     "{{ value_json.presses_per_minute }}",
     {"unit_of_measurement": "presses/min", "state_class": "measurement"}),
    ("backlog", "Undelivered events", "health", "{{ value_json.backlog }}",
     {"state_class": "measurement", "entity_category": "diagnostic"}),
]


def device(topics: Topics) -> dict[str, Any]:
    return {
        "identifiers": [f"sensory-station-{topics.site}-{topics.station}"],
        "name": f"Sensory station {topics.station}",
        "manufacturer": "Sensory Music Station",
        "model": "sensory station",
        "sw_version": __version__,
        "suggested_area": topics.site,
    }


def discovery_messages(
    topics: Topics, inputs: list[str], prefix: str = "homeassistant"
) -> dict[str, dict[str, Any]]:
    """Discovery topic → config payload, for every sensor and trigger of the station.

    The node id is the station id alone, so that the broker's ACL can allow each station
    ``homeassistant/+/<station id>/#`` and nothing else.
    """
    node = topics.station
    common = {
        "device": device(topics),
        "availability_topic": topics.status,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
    }
    messages: dict[str, dict[str, Any]] = {}
    for object_id, name, source, template, extra in _SENSORS:
        messages[f"{prefix}/sensor/{node}/{object_id}/config"] = {
            "name": name,
            "unique_id": f"sensory-{topics.site}-{topics.station}-{object_id}",
            "state_topic": getattr(topics, source),
            "value_template": template,
            **extra,
            **common,
        }
    for name in inputs:
        object_id = f"{name.replace('-', '_')}_presses"
        messages[f"{prefix}/sensor/{node}/{object_id}/config"] = {
            "name": f"{name} presses",
            "unique_id": f"sensory-{topics.site}-{topics.station}-{object_id}",
            "state_topic": topics.input_presses(name),
            "state_class": "total_increasing",
            **common,
        }
        messages[f"{prefix}/device_automation/{node}/{name.replace('-', '_')}_press/config"] = {
            "automation_type": "trigger",
            "topic": topics.events,
            "value_template": "{{ value_json.type ~ ':' ~ (value_json.input | default('')) }}",
            "payload": f"press:{name}",
            "type": "button_short_press",
            "subtype": name,
            "qos": 1,
            "device": device(topics),
        }
    return messages
