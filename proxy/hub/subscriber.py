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
from proxy.hub.frames import Frame, chunk, merge_frames
from proxy.sse import encode_comment

KEEPALIVE = encode_comment("keepalive")
KEEPALIVE_CHUNK = chunk(KEEPALIVE)


class Subscriber:
    __slots__ = (
        "_clock",
        "_pending",
        "_status",
        "_wake",
        "capacity",
        "chunked",
        "closed_reason",
        "coalesced",
        "expires_at",
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
        chunked: bool = False,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        """``chunked``: drain frames as HTTP/1.1 chunks (a writer that frames its own body), else as bare
        SSE event blocks (an ASGI server frames them)."""
        self.capacity = capacity
        self.chunked = chunked
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
        #: When (on ``clock``) this client's access ends (a viewer token's ``exp``): the keepalive ticker
        #: closes it with reason ``"expired"`` then. ``math.inf`` without viewer access control.
        self.expires_at = math.inf

    @property
    def pending(self) -> int:
        return len(self._pending)

    def offer(self, frame: Frame) -> None:
        """Queue ``frame`` for this client (skipped when it touches none of its queues). Never blocks."""
        if self.closed_reason is not None or (frame.kind == "delta" and not frame.touches(self.only)):
            return
        if not self._pending and self._status is None and self._write_now(frame):
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
        self._notify()

    def offer_status(self, encoded: bytes) -> None:
        """Replace any pending status event with ``encoded`` (only the newest status matters)."""
        if self.closed_reason is None:
            self._status = encoded
            self._notify()

    def offer_keepalive(self, now: float, idle_s: float) -> None:
        """Queue a keepalive comment when nothing was drained for ``idle_s`` (the broker's ticker calls this);
        close the client once its access has expired."""
        if now >= self.expires_at:
            self.close("expired")
            return
        if self.closed_reason is None and now - self.last_sent >= idle_s and not self._pending:
            self.keepalive = True
            self._notify()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._pending.clear()
            self._status = None
            self._notify()

    def _write_now(self, frame: Frame) -> bool:
        """Hook: deliver ``frame`` at once, bypassing the mailbox (True = taken). The base class never does;
        a socket subscriber (``proxy.stream``) writes it to its idle socket without a task switch."""
        return False

    def _notify(self) -> None:
        """Wake the task that drains this mailbox."""
        self._wake.set()

    def _rearm(self) -> None:
        self._wake = trio.Event()

    def encode(self, frame: Frame) -> bytes:
        """``frame``'s shared bytes in this subscriber's form (memoised on the frame per filter)."""
        return frame.chunk(self.only) if self.chunked else frame.event(self.only)

    def drain(self) -> list[bytes]:
        """Take everything pending, encoded as SSE events, without waiting (may be empty)."""
        if self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason)
        out = [self.encode(f) for f in self._pending]
        self._pending.clear()
        self.full_since = None
        if self._status is not None:
            out.append(chunk(self._status) if self.chunked else self._status)
            self._status = None
        if self.keepalive:
            self.keepalive = False
            if not out:
                out.append(KEEPALIVE_CHUNK if self.chunked else KEEPALIVE)
        self.last_sent = self._clock()
        self._rearm()
        return out

    @property
    def ready(self) -> bool:
        """Something is pending (or the subscriber is closed): :meth:`drain` would not be empty."""
        return bool(self._pending) or self._status is not None or self.keepalive or self.closed_reason is not None

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
