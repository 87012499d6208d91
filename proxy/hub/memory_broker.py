"""In-memory broker: numbers frames in this process; :class:`~proxy.hub.fanout.Fanout` keeps the ring of recent
deltas for resume, the current view of every queue and the subscribers."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from proxy.hub.broker import Start
from proxy.hub.fanout import Fanout
from proxy.hub.frames import Frame
from proxy.hub.subscriber import Subscriber
from proxy.state.view import QueueView
from proxy.timefmt import iso, utcnow


class MemoryBroker:
    """Single-process :class:`~proxy.hub.broker.Broker`. All methods are synchronous, hence atomic under trio."""

    def __init__(self, *, ring_size: int, ring_max_views: int = 50_000, epoch: str | None = None,
                 now: Callable[[], str] | None = None) -> None:
        self._now = now or (lambda: iso(utcnow()))
        self._fan = Fanout(epoch=epoch or secrets.token_hex(3), ring_size=ring_size, ring_max_views=ring_max_views,
                           now=self._now)
        self.frames_published = 0

    @property
    def epoch(self) -> str:
        return self._fan.epoch

    @epoch.setter
    def epoch(self, value: str) -> None:
        self._fan.epoch = value

    @property
    def seq(self) -> int:
        return self._fan.seq

    @property
    def subscriber_count(self) -> int:
        return len(self._fan.subscribers)

    @property
    def attached(self) -> bool:
        return True  # in-process: nothing to lose

    @property
    def status(self) -> Mapping[str, Any]:
        return self._fan.status

    def publish(self, views: Mapping[str, QueueView], removed: tuple[str, ...] = ()) -> Frame:
        frame = Frame("delta", self.epoch, self.seq + 1, self._now(), dict(views), removed)
        self._fan.deliver(frame)
        self.frames_published += 1
        return frame

    def set_status(self, status: Mapping[str, Any]) -> None:
        self._fan.set_status(status)

    def snapshot(self, only: frozenset[str] | None = None) -> Frame:
        return self._fan.snapshot(only)

    def _missed(self, last_event_id: str | None) -> list[Frame] | None:
        return self._fan.missed(last_event_id)

    def attach(self, subscriber: Subscriber, last_event_id: str | None) -> Start:
        return self._fan.attach(subscriber, last_event_id)

    def detach(self, subscriber: Subscriber) -> None:
        self._fan.detach(subscriber)

    def keepalive(self, now: float, idle_s: float) -> None:
        self._fan.keepalive(now, idle_s)

    def close_all(self, reason: str) -> None:
        self._fan.close_all(reason)
