"""One Notifications WebSocket text frame → what it means for the proxy (pure, no I/O).

Frames (reference §2): ``channel.metadata`` heartbeats (and pongs), ``v2.system.socket_closing``,
``v2.system.token_revoked``/``no_longer_subscribed`` notices, and the subscribed topics' events.
Only ``v2.analytics.queues.{id}.observations`` and ``.activity`` events carry queue data; their body is
translated by :mod:`proxy.ingest.adapter`, so a frame and a pushed delivery of the same body give the
same result. An ``.activity`` frame's observations are untimed (its body has no time): whoever applies
them stamps them first (:func:`~proxy.ingest.adapter.stamp_untimed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from proxy.errors import InvalidInput
from proxy.ingest.adapter import ActivityBody, from_activity, from_observations
from proxy.ingest.wire import NotificationFrame, ObservationsBody, convert
from proxy.state.observation import QueueObservation

FrameKind = Literal["heartbeat", "closing", "revoked", "unsubscribed", "observation", "ignored"]

_decode = msgspec.json.Decoder(NotificationFrame).decode


@dataclass(frozen=True, slots=True)
class Notification:
    kind: FrameKind
    topic: str
    observations: tuple[QueueObservation, ...] = ()


def parse_notification(raw: str | bytes) -> Notification:
    """Classify one frame and translate an observation body; raises :class:`InvalidInput` naming
    the field when the frame is not a notification or its observation body is malformed."""
    try:
        frame = _decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidInput("$", f"not a notification frame: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput("$", f"malformed JSON: {exc}") from None
    except RecursionError:  # msgspec's depth guard: brackets nested thousands deep
        raise InvalidInput("$", "JSON nested too deeply") from None
    topic = frame.topicName
    if topic == "channel.metadata":
        return Notification("heartbeat", topic)
    if topic == "v2.system.socket_closing":
        return Notification("closing", topic)
    if topic.startswith("v2.system.token_revoked"):
        return Notification("revoked", topic)
    if topic.startswith("v2.system.no_longer_subscribed"):
        return Notification("unsubscribed", topic)
    if topic.startswith("v2.analytics.queues.") and topic.endswith(".observations"):
        body: ObservationsBody = convert(frame.eventBody, ObservationsBody, "$.eventBody")
        queue_id = topic[len("v2.analytics.queues."):-len(".observations")]
        observation = from_observations(body, path="$.eventBody", topic_queue=queue_id)
        return Notification("observation", topic, (observation,))
    if topic.startswith("v2.analytics.queues.") and topic.endswith(".activity"):
        queue_id = topic[len("v2.analytics.queues."):-len(".activity")]
        if not queue_id or "." in queue_id:
            raise InvalidInput("$.topicName", f"not a queue activity topic: {topic!r}")
        activity: ActivityBody = convert(frame.eventBody, ActivityBody, "$.eventBody")
        return Notification("observation", topic, tuple(from_activity(activity, queue_id, path="$.eventBody")))
    return Notification("ignored", topic)
