"""Parse a callback body (one envelope or a batch) into :class:`InboundEvent` values, atomically.

Order (DESIGN 3.6): the whole body is parsed and validated before anything is applied; one bad
envelope rejects the batch with an :class:`InvalidInput` naming ``$[index].field``. Envelopes of
topics outside the allowlist are validated at the envelope level only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from proxy.contract import QUEUE_UPDATE_TOPIC
from proxy.errors import InvalidInput
from proxy.ingest import values
from proxy.ingest.adapter import from_observations, from_queue_state
from proxy.ingest.topics import TopicFilter
from proxy.ingest.wire import EventBridgeEnvelope, EventBusEnvelope, ObservationsBody, QueueUpdatePayload, convert
from proxy.state.observation import QueueObservation

_OBSERVATIONS = re.compile(r"^v2\.analytics\.queues\.([^.]+)\.observations$")


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One validated envelope. ``observation`` is None when the topic is ignored or carries no queue data."""

    event_id: str
    topic: str
    allowed: bool
    observation: QueueObservation | None


def _one(obj: Any, topics: TopicFilter, prefix: str) -> InboundEvent:
    if not isinstance(obj, dict):
        raise InvalidInput(prefix, "expected an object (an envelope)")
    if "detail-type" in obj:
        bridge: EventBridgeEnvelope = convert(obj, EventBridgeEnvelope, prefix)
        values.moment(bridge.time, f"{prefix}.time")
        topic = bridge.detail.topicName
        allowed = topics.allows(topic)
        observation = None
        if allowed and (named := _OBSERVATIONS.match(topic)):
            body = convert(bridge.detail.eventBody, ObservationsBody, f"{prefix}.detail.eventBody")
            observation = from_observations(body, path=f"{prefix}.detail.eventBody", topic_queue=named.group(1))
        return InboundEvent(bridge.id, topic, allowed, observation)
    envelope: EventBusEnvelope = convert(obj, EventBusEnvelope, prefix)
    values.moment(envelope.timestamp, f"{prefix}.timestamp")
    allowed = topics.allows(envelope.topic)
    observation = None
    if allowed:
        if envelope.topic == QUEUE_UPDATE_TOPIC:
            payload: QueueUpdatePayload = convert(envelope.payload, QueueUpdatePayload, f"{prefix}.payload")
            observation = from_queue_state(payload.queueState, path=f"{prefix}.payload.queueState")
        elif named := _OBSERVATIONS.match(envelope.topic):
            body = convert(envelope.payload, ObservationsBody, f"{prefix}.payload")
            observation = from_observations(body, path=f"{prefix}.payload", topic_queue=named.group(1))
    return InboundEvent(envelope.eventId, envelope.topic, allowed, observation)


def parse_callback(raw: bytes, topics: TopicFilter) -> list[InboundEvent]:
    """Validate a whole callback body; raises :class:`InvalidInput` (nothing applied) on the first bad field."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidInput("$", f"malformed JSON: {exc}") from None
    except RecursionError:  # msgspec's depth guard: brackets nested thousands deep
        raise InvalidInput("$", "JSON nested too deeply") from None
    if isinstance(obj, list):
        if not obj:
            raise InvalidInput("$", "empty batch")
        return [_one(item, topics, f"$[{index}]") for index, item in enumerate(obj)]
    return [_one(obj, topics, "$")]
