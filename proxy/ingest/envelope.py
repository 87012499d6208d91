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

from proxy.errors import InvalidInput
from proxy.ingest.adapter import from_observations, from_queue_state
from proxy.ingest.topics import TopicFilter
from proxy.ingest.wire import EventBridgeEnvelope, EventBusEnvelope, ObservationsBody, QueueUpdatePayload
from proxy.settings import QUEUE_UPDATE_TOPIC
from proxy.state.observation import QueueObservation

_OBSERVATIONS = re.compile(r"^v2\.analytics\.queues\.[^.]+\.observations$")
_AT = re.compile(r" - at `\$([^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One validated envelope. ``observation`` is None when the topic is ignored or carries no queue data."""

    event_id: str
    topic: str
    allowed: bool
    observation: QueueObservation | None


def _field_error(exc: msgspec.ValidationError, prefix: str) -> InvalidInput:
    message = str(exc)
    path = ""
    at = _AT.search(message)
    if at:
        path = at.group(1)
        message = message[: at.start()]
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}"
        message = "required"
    return InvalidInput(prefix + path, message)


def _convert(obj: Any, kind: type[Any], prefix: str) -> Any:
    try:
        return msgspec.convert(obj, kind)
    except msgspec.ValidationError as exc:
        raise _field_error(exc, prefix) from None


def _one(obj: Any, topics: TopicFilter, prefix: str) -> InboundEvent:
    if not isinstance(obj, dict):
        raise InvalidInput(prefix, "expected an object (an envelope)")
    if "detail-type" in obj:
        bridge: EventBridgeEnvelope = _convert(obj, EventBridgeEnvelope, prefix)
        topic = bridge.detail.topicName
        allowed = topics.allows(topic)
        observation = None
        if allowed and _OBSERVATIONS.match(topic):
            body = _convert(bridge.detail.eventBody, ObservationsBody, f"{prefix}.detail.eventBody")
            observation = from_observations(body, fallback_time=bridge.time, path=f"{prefix}.detail.eventBody")
        return InboundEvent(bridge.id, topic, allowed, observation)
    envelope: EventBusEnvelope = _convert(obj, EventBusEnvelope, prefix)
    allowed = topics.allows(envelope.topic)
    observation = None
    if allowed:
        if envelope.topic == QUEUE_UPDATE_TOPIC:
            payload: QueueUpdatePayload = _convert(envelope.payload, QueueUpdatePayload, f"{prefix}.payload")
            observation = from_queue_state(payload.queueState)
        elif _OBSERVATIONS.match(envelope.topic):
            body = _convert(envelope.payload, ObservationsBody, f"{prefix}.payload")
            observation = from_observations(body, fallback_time=envelope.timestamp, path=f"{prefix}.payload")
    return InboundEvent(envelope.eventId, envelope.topic, allowed, observation)


def parse_callback(raw: bytes, topics: TopicFilter) -> list[InboundEvent]:
    """Validate a whole callback body; raises :class:`InvalidInput` (nothing applied) on the first bad field."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidInput("$", f"malformed JSON: {exc}") from None
    if isinstance(obj, list):
        if not obj:
            raise InvalidInput("$", "empty batch")
        return [_one(item, topics, f"$[{index}]") for index, item in enumerate(obj)]
    return [_one(obj, topics, "$")]
