"""One SSE client's bounded mailbox.

The publisher calls :meth:`Subscriber.offer` and never waits: when more than ``capacity`` frames
are pending they are coalesced into one (views are whole, the newest wins), and a client whose
mailbox stays coalesced for ``stall_s`` without draining is closed with reason ``"stalled"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from proxy.errors import SubscriberClosed
from proxy.hub.frames import Frame, merge_frames
from proxy.sse import encode_comment, encode_event

KEEPALIVE = encode_comment("keepalive")


class Subscriber:
    __slots__ = (
        "_clock",
        "_pending",
        "_status",
        "_wake",
        "capacity",
        "closed_reason",
        "coalesced",
        "full_since",
        "keepalive",
        "last_sent",
        "only",
        "stall_s",
    )

    def __init__(
        self,
        *,
        capacity: int,
        stall_s: float,
        only: frozenset[str] | None = None,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.capacity = capacity
        self.stall_s = stall_s
        self.only = only
        self._clock = clock
        self._pending: list[Frame] = []  # a list: an empty deque costs ~700 B per connection
        self._status: bytes | None = None
        self._wake = trio.Event()
        self.closed_reason: str | None = None
        self.full_since: float | None = None
        self.coalesced = 0
        self.keepalive = False
        self.last_sent = -math.inf  # set by every drain

    @property
    def pending(self) -> int:
        return len(self._pending)

    def offer(self, frame: Frame) -> None:
        """Queue ``frame`` for this client (skipped when it touches none of its queues). Never blocks."""
        if self.closed_reason is not None or (frame.kind == "delta" and not frame.touches(self.only)):
            return
        self._pending.append(frame)
        if len(self._pending) > self.capacity:
            merged = merge_frames(list(self._pending))
            self._pending.clear()
            self._pending.append(merged)
            self.coalesced += 1
            now = self._clock()
            if self.full_since is None:
                self.full_since = now
            elif now - self.full_since > self.stall_s:
                self.close("stalled")
                return
        self._wake.set()

    def offer_status(self, encoded: bytes) -> None:
        """Replace any pending status event with ``encoded`` (only the newest status matters)."""
        if self.closed_reason is None:
            self._status = encoded
            self._wake.set()

    def offer_keepalive(self, now: float, idle_s: float) -> None:
        """Queue a keepalive comment when nothing was drained for ``idle_s`` (the broker's ticker calls this)."""
        if self.closed_reason is None and now - self.last_sent >= idle_s and not self._pending:
            self.keepalive = True
            self._wake.set()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._pending.clear()
            self._status = None
            self._wake.set()

    def drain(self) -> list[bytes]:
        """Take everything pending, encoded as SSE events, without waiting (may be empty)."""
        if self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason)
        out = [encode_event(f.data(self.only), event=f.kind, id=f.id) for f in self._pending]
        self._pending.clear()
        self.full_since = None
        if self._status is not None:
            out.append(self._status)
            self._status = None
        if self.keepalive:
            self.keepalive = False
            if not out:
                out.append(KEEPALIVE)
        self.last_sent = self._clock()
        self._wake = trio.Event()
        return out

    async def next(self) -> list[bytes]:
        """Wait for frames (or closure); raises :class:`SubscriberClosed` once closed."""
        while True:
            if self.closed_reason is not None:
                raise SubscriberClosed(self.closed_reason)
            if self._pending or self._status is not None or self.keepalive:
                return self.drain()
            await self._wake.wait()
            if not (self._pending or self._status is not None or self.keepalive or self.closed_reason):
                self._wake = trio.Event()
