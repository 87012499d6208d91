"""Every JSON shape the simulator puts on the wire, built in one place.

Shapes follow ``shared/reference/genesys-platform.md`` (real platform) and DESIGN 3.1/3.2 (the
guide's Event Bus and the EventBridge envelope). The contract test checks them against
``tests/simulator/shapes.py``; a correction to the reference lands there and here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from .model import ROUTING_STATUSES, IntervalStats, MediaState, QueueChange, QueueInfo, WaitingDetail

JSON = dict[str, Any]

QUEUE_UPDATE_TOPIC: Final = "com.genesyscloud.telephony.queue.update"
OBSERVATIONS_TOPIC: Final = "v2.analytics.queues.{id}.observations"
#: The SDK's topic mapping (``notificationMappings.json``) pairs it with
#: ``V2QueueObservationObservationCountNotification``; Notifications only.
ACTIVITY_TOPIC: Final = "v2.analytics.queues.{id}.activity"
SOCKET_CLOSING_TOPIC: Final = "v2.system.socket_closing"
HEARTBEAT_TOPIC: Final = "channel.metadata"


def iso(t_ms: int) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-27T21:00:00.123Z``."""
    dt = datetime.fromtimestamp(t_ms // 1000, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{t_ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int:
    """Parse an RFC 3339 time into epoch ms. Raises ``ValueError`` when malformed."""
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (the exact bytes that are signed are the bytes that are sent)."""
    return json.dumps(value, separators=(",", ":")).encode()


def observations_topic(queue_id: str) -> str:
    return OBSERVATIONS_TOPIC.replace("{id}", queue_id)


def activity_topic(queue_id: str) -> str:
    return ACTIVITY_TOPIC.replace("{id}", queue_id)


def interval_text(iv: IntervalStats) -> str:
    return f"{iso(iv.start_ms)}/{iso(iv.end_ms)}"


def sl_ratio(numerator: int, denominator: int) -> float:
    """``oServiceLevel.ratio``; 1.0 when nothing was answered or abandoned (UNCONFIRMED convention)."""
    return numerator / denominator if denominator else 1.0


# ------------------------------------------------------------------ OAuth and errors
def token_response(access_token: str, expires_in: int) -> JSON:
    return {"access_token": access_token, "token_type": "bearer", "expires_in": expires_in}


def oauth_error(error: str, description: str) -> JSON:
    return {"error": error, "description": description, "error_description": description}


def error_body(status: int, code: str, message: str) -> JSON:
    """The platform's ``ErrorBody``."""
    return {
        "message": message,
        "code": code,
        "status": status,
        "messageParams": {},
        "contextId": "",
        "details": [],
        "errors": [],
    }


# ------------------------------------------------------------------ Event Bus (DESIGN 3.1)
def queue_state(change: QueueChange, media: str) -> JSON:
    """``payload.queueState`` with absolute values of one (queue, mediaType)."""
    st = change.media[media]
    iv = st.interval
    return {
        "queueId": change.queue.queue_id,
        "queueName": change.queue.name,
        "mediaType": media,
        "observedAt": iso(change.observed_at_ms),
        "oWaiting": st.waiting,
        "oInteracting": st.interacting,
        "oAlerting": st.alerting,
        "oLongestWaiting": None if st.longest_waiting_ms is None else iso(st.longest_waiting_ms),
        "oUserRoutingStatuses": dict(change.agents),
        "interval": {
            "start": iso(iv.start_ms),
            "end": iso(iv.end_ms),
            "nOffered": iv.offered,
            "tAnswered": {"count": iv.answered, "sum": iv.answered_sum_ms},
            "tAbandon": {"count": iv.abandoned, "sum": iv.abandoned_sum_ms},
            "oServiceLevel": {"numerator": iv.sl_numerator, "denominator": iv.sl_denominator, "target": iv.sl_target},
            # not in the guide's example: added so average handle time is reachable on this topic too
            "tHandle": {"count": iv.handled, "sum": iv.handled_sum_ms},
        },
    }


def eventbus_envelope(*, event_id: str, subscription_id: str, topic: str, timestamp_ms: int, payload: JSON) -> JSON:
    return {
        "eventId": event_id,
        "subscriptionId": subscription_id,
        "topic": topic,
        "timestamp": iso(timestamp_ms),
        "payload": payload,
    }


def subscription(
    *,
    sub_id: str,
    callback_url: str,
    topics: list[str],
    fmt: str,
    retry_interval_s: float,
    max_retry_attempts: int,
    description: str,
    created_ms: int,
    batch: bool,
) -> JSON:
    return {
        "id": sub_id,
        "callbackUrl": callback_url,
        "topics": topics,
        "format": fmt,
        "retryIntervalSeconds": retry_interval_s,
        "maxRetryAttempts": max_retry_attempts,
        "description": description,
        "batch": batch,
        "dateCreated": iso(created_ms),
        "selfUri": f"/api/v2/events/subscriptions/{sub_id}",
    }


# ------------------------------------------------------------------ Notifications (real wire format)
def _count(metric: str, n: int) -> JSON:
    return {"metric": metric, "stats": {"count": n}}


def instant_metrics(st: MediaState) -> list[JSON]:
    longest: JSON = {"metric": "oLongestWaiting", "stats": {"count": st.waiting}}
    if st.longest_waiting_ms is not None:
        longest["stats"]["calculatedMetricValue"] = st.longest_waiting_ms
    return [
        _count("oWaiting", st.waiting),
        _count("oInteracting", st.interacting),
        _count("oAlerting", st.alerting),
        longest,
    ]


def interval_metrics(iv: IntervalStats) -> list[JSON]:
    return [
        _count("nOffered", iv.offered),
        {"metric": "tAnswered", "stats": {"count": iv.answered, "sum": iv.answered_sum_ms}},
        {"metric": "tAbandon", "stats": {"count": iv.abandoned, "sum": iv.abandoned_sum_ms}},
        service_level_metric(iv),
    ]


def service_level_metric(iv: IntervalStats) -> JSON:
    """``oServiceLevel`` as the platform writes it (ratio, numerator, denominator, target)."""
    return {
        "metric": "oServiceLevel",
        "stats": {
            "ratio": sl_ratio(iv.sl_numerator, iv.sl_denominator),
            "numerator": iv.sl_numerator,
            "denominator": iv.sl_denominator,
            "target": iv.sl_target,
        },
    }


def media_observation_body(change: QueueChange, media: str) -> JSON:
    """``eventBody`` of ``v2.analytics.queues.{id}.observations`` for one (queue, mediaType)."""
    st = change.media[media]
    t = iso(change.observed_at_ms)
    return {
        "group": {"queueId": change.queue.queue_id, "mediaType": media},
        "data": [
            {"interval": f"{t}/{t}", "metrics": instant_metrics(st)},
            {"interval": interval_text(st.interval), "metrics": interval_metrics(st.interval)},
        ],
    }


def routing_status_metrics(agents: tuple[tuple[str, int], ...]) -> list[JSON]:
    """``oUserRoutingStatuses`` entries, zero counts omitted (as the real platform does)."""
    return [{"metric": "oUserRoutingStatuses", "qualifier": s, "stats": {"count": n}} for s, n in agents if n]


def agents_observation_body(change: QueueChange) -> JSON:
    """``eventBody`` carrying the queue's routing statuses under a group without ``mediaType``."""
    t = iso(change.observed_at_ms)
    return {
        "group": {"queueId": change.queue.queue_id},
        "data": [{"interval": f"{t}/{t}", "metrics": routing_status_metrics(change.agents)}],
    }


def observation_bodies(change: QueueChange) -> list[tuple[str, JSON]]:
    """(group key, eventBody) for every body a change produces on the observations topic."""
    out = [(m, media_observation_body(change, m)) for m in change.changed_media]
    if change.agents_changed:
        out.append(("agents", agents_observation_body(change)))
    return out


def notification(topic: str, body: JSON, correlation_id: str) -> JSON:
    """The WebSocket message envelope (Java SDK ``NotificationEvent``)."""
    return {"topicName": topic, "version": "2", "eventBody": body, "metadata": {"CorrelationId": correlation_id}}


def heartbeat() -> JSON:
    return {"topicName": HEARTBEAT_TOPIC, "eventBody": {"message": "WebSocket Heartbeat"}}


def pong() -> JSON:
    return {"topicName": HEARTBEAT_TOPIC, "eventBody": {"message": "pong"}}


def system_message(
    topic: str,
    *,
    channel_id: str,
    kind: str | None,
    message: str,
    client_id: str,
    correlation_id: str,
    reason: str | None = None,
) -> JSON:
    """A ``SystemMessageSystemMessage`` frame. ``kind`` (``systemTopicType``) is one of the SDK enum's
    ``no_longer_subscribed``, ``subscription_changed``, ``token_revoked``, or None (left out, as for
    ``socket_closing``, which the enum has no value for)."""
    body: JSON = {"channelId": channel_id}
    if kind is not None:
        body["systemTopicType"] = kind
    body.update({"correlationId": correlation_id, "oauthClientId": client_id, "message": message})
    if reason is not None:
        body["reason"] = reason
    return notification(topic, body, correlation_id)


def channel(channel_id: str, connect_uri: str, expires_ms: int) -> JSON:
    return {"id": channel_id, "connectUri": connect_uri, "expires": iso(expires_ms)}


def channel_topic(topic: str, channel_id: str, *, permitted: bool, reason: str | None = None) -> JSON:
    entry: JSON = {
        "id": topic,
        "state": "Permitted" if permitted else "Rejected",
        "selfUri": f"/api/v2/notifications/channels/{channel_id}/subscriptions",
    }
    if not permitted:
        entry["rejectionReason"] = reason or "Topic not found"
    return entry


def subscribe_reply(result: str, status: str, correlation_id: str | None) -> JSON:
    return {"result": result, "status": status, "correlationId": correlation_id}


# ------------------------------------------------------------------ EventBridge (DESIGN 3.2)
def eventbridge_envelope(
    *, event_id: str, topic: str, detail_type: str, time_ms: int, body: JSON, correlation_id: str, org_id: str
) -> JSON:
    """An EventBridge event; ``time`` in whole seconds. A real capture has the topic *template* as
    ``detail-type`` (the concrete topic stays in ``detail.topicName``); the caller chooses."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": f"aws.partner/genesys.com/cloud/{org_id}/queuecast-sim",
        "account": "000000000000",
        "time": iso(time_ms)[:19] + "Z",
        "region": "us-east-1",
        "resources": [],
        "detail": notification(topic, body, correlation_id),
    }


# ------------------------------------------------------------------ Analytics
def observation_detail(d: WaitingDetail) -> JSON:
    return {
        "observationDate": iso(d.offered_ms),
        "conversationId": d.conversation_id,
        "sessionId": d.conversation_id,
        "routingPriority": 0,
        "direction": "inbound",
    }


def aggregate_metrics(iv: IntervalStats, metrics: list[str]) -> list[JSON]:
    """Aggregates-query metrics for (possibly summed) interval stats, in the requested order."""
    handle: JSON = {"count": iv.handled, "sum": iv.handled_sum_ms}
    if iv.handled:  # the real capture's tHandle carries max and min too
        handle = {"max": iv.t_handle.max_ms, "min": iv.t_handle.min_ms, **handle}
    by_name = {m["metric"]: m for m in interval_metrics(iv)}
    by_name["tHandle"] = {"metric": "tHandle", "stats": handle}
    return [by_name[m] for m in metrics]


def queue_entity(q: QueueInfo) -> JSON:
    return {"id": q.queue_id, "name": q.name, "selfUri": f"/api/v2/routing/queues/{q.queue_id}"}


__all__ = ["ROUTING_STATUSES", "dumps", "iso"]
