"""The observations-topic message stream: world changes in, messages out, for every transport alike.

One ``ObservationStream`` per run turns each step's ``QueueChange``s into ``ObservationMessage``s in
the configured shape (``SimSettings.message_shape``), so the Notifications socket, the Event Bus and
EventBridge deliveries carry the same messages, all from the one world.

- ``legacy``: per changed (queue, mediaType) one body with the instant values and the interval
  figures; the routing statuses in a body of their own (today's bodies, ``wire.observation_bodies``).
- ``real``: an instant message per changed (queue, mediaType) with only the changed counts; interval
  messages apart, at most one per (queue, mediaType) every ``interval_message_s`` simulated seconds
  while its figures change (the newest figures go out when the wait is over), the final figures of
  an ended interval at once, and nothing for an interval in which nothing was counted yet; agent
  counts per ``routing_status_mode`` and ``agent_metric``.

World time only moves while the world steps, so a paused world would hold pending interval figures
forever: ``flush`` sends them now (the engine calls it when the world stops).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import realwire, wire
from .model import IntervalStats, QueueChange
from .settings import SimSettings
from .wire import JSON


@dataclass(frozen=True, slots=True)
class ObservationMessage:
    """One ``eventBody`` of ``v2.analytics.queues.{id}.observations`` and what a transport needs."""

    queue_id: str
    group: str
    """Coalescing key within the topic: a later message of the same group supersedes (or, when
    ``partial``, merges into) a pending one. E.g. ``voice``, ``instant:voice``, ``agents``."""
    time_ms: int
    """Simulated time of the message (its instant; for an interval message, when it is sent)."""
    body: JSON
    partial: bool = False
    """The body carries only changes: coalescing merges its metrics into the pending ones."""
    activity: bool = False
    """A ``v2.analytics.queues.{id}.activity`` body instead (Notifications only)."""

    @property
    def topic(self) -> str:
        return wire.activity_topic(self.queue_id) if self.activity else wire.observations_topic(self.queue_id)


def coalesce(pending: ObservationMessage, newer: ObservationMessage) -> ObservationMessage:
    """What to send instead of two messages of one group: the newer one, or for partial bodies the
    pending metrics updated by the newer ones (per metric and qualifier), at the newer time."""
    if not (pending.partial and newer.partial):
        return newer
    merged: dict[tuple[str, str | None], JSON] = {}
    for msg in (pending, newer):
        for m in msg.body["data"][0]["metrics"]:
            merged[(m["metric"], m.get("qualifier"))] = m
    data = {**newer.body["data"][0], "metrics": list(merged.values())}
    return replace(newer, body={**newer.body, "data": [data]})


@dataclass(slots=True)
class _IntervalLane:
    """Interval messages of one (queue, mediaType): what went out last, and what waits."""

    sent: IntervalStats | None = None
    sent_ms: int | None = None
    waiting: IntervalStats | None = None


class ObservationStream:
    """Stateful: remembers, per (queue, mediaType), the interval figures sent and pending."""

    def __init__(
        self,
        *,
        shape: str,
        routing_status_mode: str = "whole",
        agent_metric: str = "oUserRoutingStatuses",
        interval_every_ms: int = 5000,
    ) -> None:
        self.shape = shape
        self.routing_status_mode = routing_status_mode
        self.agent_metric = agent_metric
        self.interval_every_ms = interval_every_ms
        self._lanes: dict[tuple[str, str], _IntervalLane] = {}

    @classmethod
    def from_settings(cls, settings: SimSettings) -> ObservationStream:
        return cls(
            shape=settings.message_shape,
            routing_status_mode=settings.routing_status_mode,
            agent_metric=settings.agent_metric,
            interval_every_ms=round(settings.interval_message_s * 1000),
        )

    def messages(self, changes: list[QueueChange], now_ms: int) -> list[ObservationMessage]:
        """The messages of one world step (plus, in ``real``, interval figures whose wait is over)."""
        if self.shape == "legacy":
            return [
                ObservationMessage(c.queue.queue_id, group, c.observed_at_ms, body)
                for c in changes
                for group, body in wire.observation_bodies(c)
            ]
        out: list[ObservationMessage] = []
        for c in changes:
            out.extend(self._real(c, now_ms))
        out.extend(self._due(now_ms, force=False))
        return out

    @staticmethod
    def activity_messages(changes: list[QueueChange]) -> list[ObservationMessage]:
        """One ``.activity`` body per queue whose counts changed in the step, whatever the shape:
        the whole instant state of every media, so a newer body supersedes a pending one."""
        return [
            ObservationMessage(c.queue.queue_id, "activity", c.observed_at_ms,
                               realwire.activity_body({m: c.media[m] for m in c.queue.media}), activity=True)
            for c in changes
            if c.changed_media
        ]

    def flush(self, now_ms: int) -> list[ObservationMessage]:
        """Every pending interval message now, whatever the wait (the world stopped)."""
        return self._due(now_ms, force=True)

    def forget(self, queue_id: str) -> None:
        """Drop a deleted queue's pending figures."""
        for key in [k for k in self._lanes if k[0] == queue_id]:
            del self._lanes[key]

    def _real(self, c: QueueChange, now_ms: int) -> list[ObservationMessage]:
        qid = c.queue.queue_id
        out: list[ObservationMessage] = []
        for m in c.changed_media:
            st = c.media[m]
            metrics = realwire.changed_instant_metrics(c.before.get(m), st)
            if metrics:
                body = realwire.instant_body(qid, m, c.observed_at_ms, st, metrics)
                out.append(ObservationMessage(qid, f"instant:{m}", c.observed_at_ms, body, partial=True))
        for m in c.queue.media:
            lane = self._lanes.setdefault((qid, m), _IntervalLane())
            final = c.closed.get(m)
            if final is not None:  # an interval ended: its final figures go out now
                lane.waiting = None
                if final != lane.sent and final.counted:
                    out.append(self._send_interval(qid, m, lane, final, now_ms))
            iv = c.media[m].interval
            if iv != lane.sent and iv.counted:
                lane.waiting = iv
        if c.agents_changed:
            statuses = realwire.changed_statuses(c.agents_before, c.agents, mode=self.routing_status_mode)
            entries = realwire.agent_metrics(c.agents, statuses, metric=self.agent_metric)
            body = realwire.agents_body(qid, c.observed_at_ms, entries)
            partial = self.routing_status_mode == "changed"
            out.append(ObservationMessage(qid, "agents", c.observed_at_ms, body, partial=partial))
        return out

    def _due(self, now_ms: int, *, force: bool) -> list[ObservationMessage]:
        out = []
        for (qid, m), lane in self._lanes.items():
            if lane.waiting is None:
                continue
            if force or lane.sent_ms is None or now_ms - lane.sent_ms >= self.interval_every_ms:
                out.append(self._send_interval(qid, m, lane, lane.waiting, now_ms))
        return out

    def _send_interval(
        self, qid: str, media: str, lane: _IntervalLane, iv: IntervalStats, now_ms: int
    ) -> ObservationMessage:
        lane.sent, lane.sent_ms, lane.waiting = iv, now_ms, None
        # the interval start is part of the group: a new interval never replaces an older one's final figures
        group = f"interval:{media}:{iv.start_ms}"
        return ObservationMessage(qid, group, now_ms, realwire.interval_body(qid, media, iv))
