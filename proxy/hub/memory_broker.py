"""In-memory broker: a ring buffer of recent deltas for resume, and the current view of every queue."""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from proxy.contract import json_encode as _encode
from proxy.hub.broker import Start
from proxy.hub.frames import Frame, parse_frame_id
from proxy.hub.subscriber import Subscriber
from proxy.sse import encode_event
from proxy.state.view import QueueView
from proxy.timefmt import iso, utcnow


class MemoryBroker:
    """Single-process :class:`~proxy.hub.broker.Broker`. All methods are synchronous, hence atomic under trio."""

    def __init__(self, *, ring_size: int, ring_max_views: int = 50_000, epoch: str | None = None,
                 now: Callable[[], str] | None = None) -> None:
        self.epoch = epoch or secrets.token_hex(3)
        self._seq = 0
        # The ring is bounded twice: by frames, and by the queue views its frames hold (each view keeps
        # its dict and JSON alive), so 500 busy queues cannot make a 4,096-frame ring cost a gigabyte.
        self._ring: deque[Frame] = deque()
        self._ring_size = ring_size
        self._ring_max_views = ring_max_views
        self._ring_views = 0
        self._current: dict[str, QueueView] = {}
        self._subscribers: set[Subscriber] = set()
        self._status: dict[str, Any] = {}
        self._status_event: bytes | None = None
        self._now = now or (lambda: iso(utcnow()))
        self.frames_published = 0
        self._snapshot: Frame | None = None  # built once per state, shared by every (re)connecting client

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def attached(self) -> bool:
        return True  # in-process: nothing to lose

    @property
    def status(self) -> Mapping[str, Any]:
        return self._status

    def publish(self, views: Mapping[str, QueueView], removed: tuple[str, ...] = ()) -> Frame:
        self._seq += 1
        frame = Frame("delta", self.epoch, self._seq, self._now(), dict(views), removed)
        if self._ring:
            self._ring[-1].trim()
        self._ring.append(frame)
        self._ring_views += len(frame.views) + len(removed)
        while len(self._ring) > 1 and (
            len(self._ring) > self._ring_size or self._ring_views > self._ring_max_views
        ):
            oldest = self._ring.popleft()
            self._ring_views -= len(oldest.views) + len(oldest.removed)
        for queue_id in removed:
            self._current.pop(queue_id, None)
        self._current.update(views)
        self._snapshot = None
        self.frames_published += 1
        for subscriber in list(self._subscribers):
            subscriber.offer(frame)
            if subscriber.closed_reason is not None:
                self._subscribers.discard(subscriber)
        return frame

    def set_status(self, status: Mapping[str, Any]) -> None:
        self._status = dict(status)
        self._status_event = encode_event(_encode(self._status), event="status")
        self._snapshot = None
        for subscriber in self._subscribers:
            subscriber.offer_status(self._status_event)

    def snapshot(self, only: frozenset[str] | None = None) -> Frame:
        """The current state. Unfiltered, it is built once per change and shared, so a reconnect storm
        costs one encode (``Frame.data(only)`` filters and memoises per queue filter)."""
        if only is not None:
            views = {q: v for q, v in self._current.items() if q in only}
            return Frame("snapshot", self.epoch, self._seq, self._now(), views, (), self._status)
        if self._snapshot is None:
            self._snapshot = Frame("snapshot", self.epoch, self._seq, self._now(), dict(self._current), (),
                                   self._status)
        return self._snapshot

    def _missed(self, last_event_id: str | None) -> list[Frame] | None:
        """The frames after ``last_event_id``, or None when it cannot be honoured exactly."""
        if last_event_id is None:
            return None
        parsed = parse_frame_id(last_event_id)
        if parsed is None or parsed[0] != self.epoch:
            return None
        seq = parsed[1]
        if seq > self._seq:
            return None  # from the future: not ours to trust
        if seq == self._seq:
            return []
        if not self._ring or self._ring[0].seq > seq + 1:
            return None  # older than the ring buffer
        return [f for f in self._ring if f.seq > seq]

    def attach(self, subscriber: Subscriber, last_event_id: str | None) -> Start:
        missed = self._missed(last_event_id)
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
        self._subscribers.add(subscriber)
        return start

    def detach(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def keepalive(self, now: float, idle_s: float) -> None:
        """Give every subscriber idle for ``idle_s`` a keepalive comment (one ticker for all clients)."""
        for subscriber in self._subscribers:
            subscriber.offer_keepalive(now, idle_s)

    def close_all(self, reason: str) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close(reason)
        self._subscribers.clear()
