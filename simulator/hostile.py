"""Malformed and hostile frames and deliveries, for the ``hostileProbability`` fault.

Each is something a consumer must refuse whole without harm: not JSON, JSON of the wrong shape, an
observations body for a real queue with an impossible value (a negative or astronomic count, a
count as a string, a time in the year 9999, an interval that is not two times, a non-number), a
body nested thousands deep, a 200 KB queue id. None of them is well formed, so a consumer that
applies nothing from them ends exactly where the truth is; one that applies any part does not.

The platform's documented failures do not include these (reference §2: "nothing is replayed" is
the only promise); they stand for schema drift, truncation by a proxy on the way, and a hostile
or broken sender. Deliveries of them are signed like the real ones (the sender holds the secret).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from . import wire

_NOW = "2026-11-30T09:46:54.839Z"


def _obs(queue_id: str, metrics: list[dict[str, Any]], *, interval: str = f"{_NOW}/{_NOW}") -> dict[str, Any]:
    return {"group": {"queueId": queue_id, "mediaType": "voice"}, "data": [{"interval": interval, "metrics": metrics}]}


def _count(value: Any) -> list[dict[str, Any]]:
    return [{"metric": "oWaiting", "stats": {"count": value}}]


#: name → eventBody for a real queue's observations topic (``None``: the whole frame is ``raw``).
_BODIES: dict[str, Callable[[str], Any]] = {
    "negative_count": lambda q: _obs(q, _count(-5)),
    "astronomic_count": lambda q: _obs(q, _count(10**30)),
    "count_as_string": lambda q: _obs(q, _count("7")),
    "fractional_count": lambda q: _obs(q, _count(2.5)),
    "year_9999": lambda q: _obs(q, _count(1), interval="9999-01-01T00:00:00.000Z/9999-01-01T00:00:00.000Z"),
    "interval_not_times": lambda q: _obs(q, _count(1), interval="yesterday/today"),
    "metrics_not_a_list": lambda q: {"group": {"queueId": q, "mediaType": "voice"},
                                     "data": [{"interval": f"{_NOW}/{_NOW}", "metrics": {"oWaiting": 1}}]},
    "group_missing": lambda q: {"data": [{"interval": f"{_NOW}/{_NOW}", "metrics": _count(1)}]},
    "body_not_an_object": lambda q: "eventBody",
    "huge_queue_id": lambda q: _obs("q" * 200_000, _count(1)),
    "negative_sum": lambda q: _obs(q, [{"metric": "tAnswered", "stats": {"count": 1, "sum": -1000}}],
                                   interval="2026-11-30T09:30:00.000Z/2026-11-30T10:00:00.000Z"),
}

#: name → raw text (not an observations body at all).
_RAW: dict[str, Callable[[str], str]] = {
    "not_json": lambda topic: '{"topicName": "' + topic + '", "eventBody": {"group": ',
    "json_array": lambda topic: "[1, 2, 3]",
    "json_null": lambda topic: "null",
    "no_topic": lambda topic: '{"eventBody": {}}',
    "nan_count": lambda topic: '{"topicName": "' + topic + '", "version": "2", "eventBody": '
    '{"group": {"queueId": "x", "mediaType": "voice"}, "data": [{"interval": "' + _NOW + "/" + _NOW + '", '
    '"metrics": [{"metric": "oWaiting", "stats": {"count": NaN}}]}]}}',
    "control_bytes": lambda topic: "\x00\x01\x02\ufffd\x7f" * 64,
    "empty": lambda topic: "",
    "deep_nesting": lambda topic: '{"topicName": "' + topic + '", "eventBody": ' + "[" * 5000 + "]" * 5000 + "}",
    # over a 1 MiB callback body limit and a 1 MiB WebSocket message limit (trio-websocket's default)
    "oversized": lambda topic: '{"topicName": "' + topic + '", "eventBody": {"pad": "' + "x" * 1_500_000 + '"}}',
}

KINDS: tuple[str, ...] = (*_BODIES, *_RAW)


def pick(rng: random.Random) -> str:
    return rng.choice(KINDS)


def notification_frame(kind: str, topic: str, queue_id: str) -> str:
    """A WebSocket text frame of ``kind`` for a subscribed ``topic`` of ``queue_id``."""
    if kind in _RAW:
        return _RAW[kind](topic)
    body = _BODIES[kind](queue_id)
    return json.dumps(wire.notification(topic, body, str(uuid.uuid4())), separators=(",", ":"))


def eventbus_body(kind: str, topic: str, queue_id: str, *, subscription_id: str) -> bytes:
    """A delivery body of ``kind`` for the guide's envelope carrying ``topic`` (an observations topic)."""
    if kind in _RAW:
        return _RAW[kind](topic).encode()
    envelope = {"eventId": str(uuid.uuid4()), "subscriptionId": subscription_id, "topic": topic,
                "timestamp": _NOW, "payload": _BODIES[kind](queue_id)}
    return json.dumps(envelope, separators=(",", ":")).encode()
