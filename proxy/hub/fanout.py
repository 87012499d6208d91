"""The local half of every broker: this process's subscribers, the resume ring and the current views.

A broker decides *which* frames exist and numbers them (:mod:`proxy.hub.memory_broker` in-process,
:mod:`proxy.cluster.redis_broker` from a Redis stream); :class:`Fanout` remembers them and offers them to
its subscribers. All methods are synchronous, hence atomic under trio (attach computes the replay and
registers the subscriber in one call, so no frame can fall between them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from proxy.contract import json_encode as _encode
from proxy.hub.broker import Start
from proxy.hub.frames import Frame, parse_frame_id
from proxy.hub.subscriber import Subscriber
from proxy.sse import encode_event
from proxy.state.view import QueueView


class Fanout:
    """``epoch``/``seq`` name the newest frame held; ids of another epoch, from the future or older than the
    ring get a snapshot. The ring is bounded twice: by frames, and by the queue views its frames hold (each
    view keeps its dict and JSON alive), so 500 busy queues cannot make a 4,096-frame ring cost a gigabyte."""

    def __init__(self, *, epoch: str, ring_size: int, ring_max_views: int, now: Callable[[], str]) -> None:
        self.epoch = epoch
        self.seq = 0
        self._ring: deque[Frame] = deque()
        self._ring_size = ring_size
        self._ring_max_views = ring_max_views
        self._ring_views = 0
        self._current: dict[str, QueueView] = {}
        self.subscribers: set[Subscriber] = set()
        self.status: dict[str, Any] = {}
        self._status_event: bytes | None = None
        self._now = now
        self._snapshot: Frame | None = None  # built once per state, shared by every (re)connecting client

    def deliver(self, frame: Frame) -> None:
        """Remember the next delta (its seq becomes the newest) and offer it to every subscriber."""
        self._remember(frame)
        for queue_id in frame.removed:
            self._current.pop(queue_id, None)
        self._current.update(frame.views)
        self.seq = frame.seq
        self._snapshot = None
        self._offer(frame)

    def reset(self, *, epoch: str, seq: int, views: Mapping[str, QueueView], ring: Sequence[Frame] = ()) -> None:
        """Replace the whole state (a snapshot from elsewhere): ``ring`` holds the deltas up to ``seq``
        that may still be resumed from, oldest first. Subscribers are not told: see :meth:`offer_snapshot`."""
        self.epoch, self.seq = epoch, seq
        self._current = dict(views)
        self._ring.clear()
        self._ring_views = 0
        for frame in ring:
            self._remember(frame)
        self._snapshot = None

    def _remember(self, frame: Frame) -> None:
        if self._ring:
            self._ring[-1].trim()  # a newer frame exists: drop the older one's per-filter encodings
        self._ring.append(frame)
        self._ring_views += len(frame.views) + len(frame.removed)
        while len(self._ring) > 1 and (
            len(self._ring) > self._ring_size or self._ring_views > self._ring_max_views
        ):
            oldest = self._ring.popleft()
            self._ring_views -= len(oldest.views) + len(oldest.removed)

    def offer_snapshot(self) -> None:
        """Give every subscriber the current snapshot (their state moved on without deltas they could use)."""
        self._offer(self.snapshot())

    def set_status(self, status: Mapping[str, Any]) -> None:
        """Record the status shown in snapshots and offer it to every subscriber as an ``event: status``."""
        self.status = dict(status)
        self._status_event = encode_event(_encode(self.status), event="status")
        self._snapshot = None
        for subscriber in self.subscribers:
            subscriber.offer_status(self._status_event)

    def snapshot(self, only: frozenset[str] | None = None) -> Frame:
        """The current state. Unfiltered, it is built once per change and shared, so a reconnect storm
        costs one encode (``Frame.data(only)`` filters and memoises per queue filter)."""
        if only is not None:
            views = {q: v for q, v in self._current.items() if q in only}
            return Frame("snapshot", self.epoch, self.seq, self._now(), views, (), self.status)
        if self._snapshot is None:
            self._snapshot = Frame("snapshot", self.epoch, self.seq, self._now(), dict(self._current), (),
                                   self.status)
        return self._snapshot

    def missed(self, last_event_id: str | None) -> list[Frame] | None:
        """The frames after ``last_event_id``, or None when it cannot be honoured exactly."""
        if last_event_id is None:
            return None
        parsed = parse_frame_id(last_event_id)
        if parsed is None or parsed[0] != self.epoch:
            return None
        seq = parsed[1]
        if seq > self.seq:
            return None  # from the future: not ours to trust
        if seq == self.seq:
            return []
        if not self._ring or self._ring[0].seq > seq + 1:
            return None  # older than the ring buffer
        return [f for f in self._ring if f.seq > seq]

    def attach(self, subscriber: Subscriber, last_event_id: str | None, *, resumable: bool = True) -> Start:
        """Register ``subscriber`` and queue its start: exact replay after a known id, else a snapshot."""
        missed = self.missed(last_event_id) if resumable else None
        start: Start
        if missed is None:
            subscriber.offer(self.snapshot())  # the shared frame; the subscriber encodes its filter
            start = "snapshot"
        else:
            for frame in missed:
                subscriber.offer(frame)
            start = "replay"
        if self._status_event is not None:
            subscriber.offer_status(self._status_event)
        self.subscribers.add(subscriber)
        return start

    def detach(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def keepalive(self, now: float, idle_s: float) -> None:
        """Give every subscriber idle for ``idle_s`` a keepalive comment (one ticker for all clients)."""
        for subscriber in self.subscribers:
            subscriber.offer_keepalive(now, idle_s)

    def close_all(self, reason: str) -> None:
        for subscriber in list(self.subscribers):
            subscriber.close(reason)
        self.subscribers.clear()

    def _offer(self, frame: Frame) -> None:
        for subscriber in list(self.subscribers):
            subscriber.offer(frame)
            if subscriber.closed_reason is not None:
                self.subscribers.discard(subscriber)
