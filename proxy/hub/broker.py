"""The broker protocol: what the state core publishes into and what SSE handlers attach to.

The in-memory broker (:mod:`proxy.hub.memory_broker`) is the embedded default; a Redis broker
can implement the same protocol for several instances (DESIGN 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from proxy.hub.frames import Frame
from proxy.hub.subscriber import Subscriber
from proxy.state.view import QueueView

Start = Literal["snapshot", "replay"]


class Broker(Protocol):
    epoch: str

    @property
    def seq(self) -> int: ...

    @property
    def subscriber_count(self) -> int: ...

    @property
    def attached(self) -> bool:
        """True while the broker can publish and deliver (a shared broker: connected to its store)."""
        ...

    def publish(self, views: Mapping[str, QueueView], removed: tuple[str, ...] = ()) -> Frame:
        """Assign the next id, remember the frame for resume, offer it to every subscriber; never waits."""
        ...

    def set_status(self, status: Mapping[str, Any]) -> None:
        """Record the upstream status and offer it to every subscriber as an ``event: status``."""
        ...

    def snapshot(self, only: frozenset[str] | None = None) -> Frame:
        """The current state of every queue, with the id of the newest published frame."""
        ...

    def attach(self, subscriber: Subscriber, last_event_id: str | None) -> Start:
        """Register ``subscriber`` and queue its start: exact replay after a known id, else a snapshot."""
        ...

    def detach(self, subscriber: Subscriber) -> None: ...

    def keepalive(self, now: float, idle_s: float) -> None:
        """Offer a keepalive comment to every subscriber that has been silent for ``idle_s``."""
        ...

    def close_all(self, reason: str) -> None: ...
