"""Inbound wire shapes as ``msgspec`` structs (DESIGN 3.1–3.3), parsed once at the boundary.

Unknown fields are ignored (forward compatibility); an absent field is ``UNSET`` (unchanged).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from proxy.errors import InvalidInput

NonNeg = Annotated[int, Meta(ge=0, le=10**9)]
Millis = Annotated[int, Meta(ge=0, le=2**53)]
NonEmpty = Annotated[str, Meta(min_length=1)]
QueueId = Annotated[str, Meta(min_length=1, max_length=128)]  # = values.MAX_ID
Instant = Annotated[datetime, Meta(tz=True)]


class Stat(Struct, frozen=True):
    count: NonNeg
    sum: Millis = 0


class ServiceLevelIn(Struct, frozen=True):
    numerator: NonNeg
    denominator: NonNeg
    target: Annotated[float, Meta(ge=0, le=1)] | None = None


class IntervalIn(Struct, frozen=True):
    start: Instant
    end: Instant
    nOffered: NonNeg | UnsetType = UNSET
    tAnswered: Stat | UnsetType = UNSET
    tAbandon: Stat | UnsetType = UNSET
    tHandle: Stat | UnsetType = UNSET
    oServiceLevel: ServiceLevelIn | UnsetType = UNSET


class QueueStateIn(Struct, frozen=True):
    """``payload.queueState`` of the queue-update topic: absolute values for one (queue, media)."""

    queueId: QueueId
    mediaType: NonEmpty
    observedAt: Instant
    queueName: str | UnsetType = UNSET
    oWaiting: NonNeg | UnsetType = UNSET
    oInteracting: NonNeg | UnsetType = UNSET
    oAlerting: NonNeg | UnsetType = UNSET
    oLongestWaiting: Instant | UnsetType | None = UNSET
    oUserRoutingStatuses: dict[str, NonNeg] | UnsetType = UNSET
    interval: IntervalIn | UnsetType = UNSET


class QueueUpdatePayload(Struct, frozen=True):
    queueState: QueueStateIn


class EventBusEnvelope(Struct, frozen=True):
    """The guide's Event Bus delivery (DESIGN 3.1); ``payload`` is validated per topic afterwards."""

    eventId: NonEmpty
    topic: NonEmpty
    timestamp: Instant
    subscriptionId: str | UnsetType = UNSET
    payload: Any = None


class EventBridgeDetail(Struct, frozen=True):
    topicName: NonEmpty
    eventBody: Any = None
    version: str | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


class EventBridgeEnvelope(Struct, frozen=True, rename={"detail_type": "detail-type"}):
    """An EventBridge API-destination delivery (DESIGN 3.2); deduped on ``id``."""

    id: NonEmpty
    detail_type: NonEmpty
    time: Instant
    detail: EventBridgeDetail
    source: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


class MetricIn(Struct, frozen=True):
    metric: NonEmpty
    stats: dict[str, Any]  # values are checked where used (proxy.ingest.values), naming the key
    qualifier: str | None = None


class DataIn(Struct, frozen=True):
    interval: NonEmpty
    metrics: list[MetricIn]


class ObservationsBody(Struct, frozen=True):
    """``v2.analytics.queues.{id}.observations`` event body (reference §3)."""

    group: dict[str, str]
    data: list[DataIn]


class NotificationFrame(Struct, frozen=True):
    """One Notifications WebSocket text frame."""

    topicName: str
    eventBody: Any = None
    version: str | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


_AT = re.compile(r" - at `\$([^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


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


def convert(obj: Any, kind: type[Any], prefix: str) -> Any:
    """``msgspec.convert`` whose errors are :class:`InvalidInput` naming the field under ``prefix``."""
    try:
        return msgspec.convert(obj, kind)
    except msgspec.ValidationError as exc:
        raise _field_error(exc, prefix) from None
