"""What the bench posts: real-shaped ``v2.analytics.queues.{id}.observations`` messages, signed.

Three kinds of message, as a Genesys Cloud org sends them (``tests/fixtures/genesys/README.md``, the
simulator's ``real`` shape), each a frozen value with its wire body:

- :class:`Instant` — one (queue, media) at one platform instant (``interval`` ``T/T``, ms), carrying
  only the metrics that changed among ``oWaiting``, ``oInteracting``, ``oAlerting``. Never
  ``oLongestWaiting``: the simulator's real shape never sends it either (the proxy asks REST).
- :class:`Interval` — one (queue, media)'s figures so far in a 30-minute interval (``S/E``);
  figures with nothing to count are omitted (``nOffered``, ``tAnswered``, ``tAbandon``, ``tHandle``,
  ``oServiceLevel``).
- :class:`Agents` — counts per routing status (``oUserRoutingStatuses`` with a ``qualifier``) under a
  group without ``mediaType``, at one instant; only the statuses listed.

Each goes out in the guide's Event Bus envelope on the queue's observations topic
(:mod:`bench.callback` signs and posts it). Standard library only, and nothing from the proxy: the
Locust scenarios (``.venv-load``) build their bodies with these too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from bench.timefmt import INTERVAL_MS, iso_ms

STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
"""Routing statuses, in the proxy's order (DESIGN 3.5)."""
INSTANT_METRICS = ("waiting", "interacting", "alerting")
"""Instant counts of a media, by the view's names (``oWaiting`` … on the wire)."""
_WIRE = {"waiting": "oWaiting", "interacting": "oInteracting", "alerting": "oAlerting"}

JSON = dict[str, Any]


def observations_topic(queue_id: str) -> str:
    return f"v2.analytics.queues.{queue_id}.observations"


def _count(metric: str, n: int) -> JSON:
    return {"metric": metric, "stats": {"count": n}}


@dataclass(frozen=True, slots=True)
class Instant:
    """Instant counts of one (queue, media) at ``at_ms``; ``None`` = not in the message (unchanged)."""

    queue_id: str
    media: str
    at_ms: int
    waiting: int | None = None
    interacting: int | None = None
    alerting: int | None = None

    def body(self) -> JSON:
        t = iso_ms(self.at_ms)
        metrics = [_count(_WIRE[name], value) for name in ("alerting", "interacting", "waiting")
                   if (value := getattr(self, name)) is not None]  # the capture's order: oAlerting first
        return {"group": {"queueId": self.queue_id, "mediaType": self.media},
                "data": [{"interval": f"{t}/{t}", "metrics": metrics}]}

    def envelope(self, *, subscription_id: str = "sub-bench") -> JSON:
        return _envelope(self.queue_id, self.at_ms, self.body(), subscription_id)


@dataclass(frozen=True, slots=True)
class Figures:
    """One (queue, media)'s figures so far in an interval; durations in ms, 0 = nothing counted."""

    offered: int = 0
    answered: int = 0
    answered_sum_ms: int = 0
    abandoned: int = 0
    abandoned_sum_ms: int = 0
    handled: int = 0
    handled_sum_ms: int = 0
    sl_numerator: int = 0
    sl_denominator: int = 0
    sl_target: float = 0.8


@dataclass(frozen=True, slots=True)
class Interval:
    """An interval message: ``figures`` of ``[start_ms, start_ms + 30 min)``. ``at_ms`` is when it was
    sent, written only as the envelope's ``timestamp`` (the body has no instant, and the proxy never
    orders by envelope times)."""

    queue_id: str
    media: str
    at_ms: int
    start_ms: int
    figures: Figures

    def body(self) -> JSON:
        f = self.figures
        metrics: list[JSON] = []
        if f.answered:
            metrics.append({"metric": "tAnswered", "stats": {"count": f.answered, "sum": f.answered_sum_ms}})
        if f.abandoned:
            metrics.append({"metric": "tAbandon", "stats": {"count": f.abandoned, "sum": f.abandoned_sum_ms}})
        if f.offered:
            metrics.append(_count("nOffered", f.offered))
        if f.handled:
            metrics.append({"metric": "tHandle", "stats": {"count": f.handled, "sum": f.handled_sum_ms}})
        if f.sl_denominator:
            metrics.append({"metric": "oServiceLevel", "stats": {
                "ratio": f.sl_numerator / f.sl_denominator, "numerator": f.sl_numerator,
                "denominator": f.sl_denominator, "target": f.sl_target}})
        interval = f"{iso_ms(self.start_ms)}/{iso_ms(self.start_ms + INTERVAL_MS)}"
        return {"group": {"queueId": self.queue_id, "mediaType": self.media},
                "data": [{"interval": interval, "metrics": metrics}]}

    def envelope(self, *, subscription_id: str = "sub-bench") -> JSON:
        return _envelope(self.queue_id, self.at_ms, self.body(), subscription_id)


@dataclass(frozen=True, slots=True)
class Agents:
    """Agent counts of one queue at ``at_ms``, for the statuses listed (the others unchanged)."""

    queue_id: str
    at_ms: int
    counts: tuple[tuple[str, int], ...]

    def body(self) -> JSON:
        t = iso_ms(self.at_ms)
        metrics = [{"metric": "oUserRoutingStatuses", "qualifier": status, "stats": {"count": n}}
                   for status, n in self.counts]
        return {"group": {"queueId": self.queue_id}, "data": [{"interval": f"{t}/{t}", "metrics": metrics}]}

    def envelope(self, *, subscription_id: str = "sub-bench") -> JSON:
        return _envelope(self.queue_id, self.at_ms, self.body(), subscription_id)


Message = Instant | Interval | Agents


def _envelope(queue_id: str, at_ms: int, body: JSON, subscription_id: str) -> JSON:
    """The guide's Event Bus envelope (DESIGN 3.1) on the queue's observations topic, a fresh event id."""
    return {"eventId": str(uuid.uuid4()), "subscriptionId": subscription_id, "topic": observations_topic(queue_id),
            "timestamp": iso_ms(at_ms), "payload": body}
