"""Names the proxy shares with the outside world, each written once: paths, topics, the JSON encoder.

A leaf: it imports nothing of the proxy, so every part may depend on it.
"""

from __future__ import annotations

from typing import Final

import msgspec

#: ``POST`` target of pushed deliveries (the guide's Event Bus, an EventBridge API destination).
CALLBACK_PATH: Final = "/api/v1/event-stream/callback"
#: ``GET`` of the wallboard stream (Server-Sent Events).
STREAM_PATH: Final = "/dashboard-stream"

#: The guide's fictional whole-state topic (its Event Bus; DESIGN 3.1).
QUEUE_UPDATE_TOPIC: Final = "com.genesyscloud.telephony.queue.update"
#: The real platform's queue observation topic (reference §3); ``{id}`` is one queue id.
OBSERVATIONS_TOPIC: Final = "v2.analytics.queues.{id}.observations"
DEFAULT_TOPICS: Final = (QUEUE_UPDATE_TOPIC, OBSERVATIONS_TOPIC)
#: The queue counts topic (``V2QueueObservationObservationCountNotification`` in the SDK's topic
#: mapping); Notifications subscribe it only when ``QC_TOPICS`` lists it (not a default).
ACTIVITY_TOPIC: Final = "v2.analytics.queues.{id}.activity"


def observation_topic(queue_id: str) -> str:
    """The concrete observations topic of one queue."""
    return OBSERVATIONS_TOPIC.replace("{id}", queue_id)


def activity_topic(queue_id: str) -> str:
    """The concrete activity topic of one queue."""
    return ACTIVITY_TOPIC.replace("{id}", queue_id)


#: The one JSON encoder (msgspec encoders are reusable and thread-safe).
json_encode: Final = msgspec.json.Encoder().encode
