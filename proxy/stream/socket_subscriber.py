"""A subscriber that writes its frames straight to its socket from the publisher's loop.

The publisher's ``offer`` reaches an idle connection (its task parked, nothing queued) and writes the
frame's shared, pre-framed chunk with one non-blocking ``os.write``: no task switch, no copy, no lock.
Only what the kernel's socket buffer refuses is handed to the connection's task (``await send_all``
under the stall deadline); frames offered meanwhile queue in the bounded mailbox as for any subscriber.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import trio

from proxy.hub.frames import Frame, chunk
from proxy.hub.subscriber import KEEPALIVE, KEEPALIVE_CHUNK, Subscriber


def _chunk_of_status(encoded: bytes, _memo: dict[bytes, bytes] = {}) -> bytes:  # noqa: B006  # the memo
    """The status event as a chunk, framed once per status (every client gets the same one)."""
    framed = _memo.get(encoded)
    if framed is None:
        _memo.clear()  # only the newest status matters
        framed = _memo[encoded] = chunk(encoded)
    return framed


class SocketSubscriber(Subscriber):
    __slots__ = ("_fd", "_rest", "_waiter", "parked")

    def __init__(self, *, fd: int, capacity: int, stall_s: float, only: frozenset[str] | None = None,
                 chunked: bool = True, clock: Callable[[], float] = trio.current_time) -> None:
        super().__init__(capacity=capacity, stall_s=stall_s, only=only, chunked=chunked, clock=clock)
        self._fd = fd
        self._rest = b""  # what the kernel refused of the last direct write; the task sends it first
        self._waiter: trio.CancelScope | None = None
        self.parked = False  # the task waits (readable or woken); nothing of ours is in flight

    def park(self, scope: trio.CancelScope) -> None:
        """The connection's task is about to wait inside ``scope``: a wake-up cancels it."""
        self._waiter = scope
        self.parked = True

    def unpark(self) -> None:
        self._waiter = None
        self.parked = False

    @property
    def has_rest(self) -> bool:
        return bool(self._rest)

    def take_rest(self) -> bytes:
        rest, self._rest = self._rest, b""
        return rest

    def offer_status(self, encoded: bytes) -> None:
        if self.parked and not self.pending:
            self._write(_chunk_of_status(encoded) if self.chunked else encoded)
        else:
            super().offer_status(encoded)

    def offer_keepalive(self, now: float, idle_s: float) -> None:
        if now < self.expires_at and self.parked and not self.pending and now - self.last_sent >= idle_s:
            self._write(KEEPALIVE_CHUNK if self.chunked else KEEPALIVE)
        else:
            super().offer_keepalive(now, idle_s)

    def _write_now(self, frame: Frame) -> bool:
        if not self.parked:
            return False  # the task is writing: queue behind it, in order
        self._write(self.encode(frame))
        return True

    def _write(self, data: bytes) -> None:
        """One non-blocking write of ``data`` (the socket is idle); what the kernel refuses goes to the task."""
        try:
            sent = os.write(self._fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:  # reset or closed by the peer: the task reports it
            self.close("client")
            return
        self.last_sent = self._clock()
        if sent < len(data):
            self._rest = data[sent:]
            self._notify()

    def _notify(self) -> None:
        scope, self._waiter = self._waiter, None
        self.parked = False
        if scope is not None:
            scope.cancel()

    def _rearm(self) -> None:
        pass

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self._rest = b""  # the memory goes with the client
        super().close(reason)
