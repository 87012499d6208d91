"""Graceful shutdown's bookkeeping: which requests are in flight, and whether new ones are still taken.

On SIGTERM (:mod:`proxy.server`) the listeners stop accepting, then :meth:`Drain.wait_idle` lets the
callbacks already in flight finish (each one answered 200 has been applied), then :meth:`Drain.close`
turns any later callback on a kept-alive connection away with a 503 (the pusher redelivers elsewhere),
and only then are the aggregator flushed and the streams ended. So a callback that was accepted is on
every stream before it ends.
"""

from __future__ import annotations

import trio


class Drain:
    __slots__ = ("_active", "_idle", "closed", "stopping")

    def __init__(self) -> None:
        self._active = 0
        self._idle = trio.Event()
        self._idle.set()
        #: SIGTERM seen: ``/readyz`` answers 503 so a load balancer stops sending new work here.
        self.stopping = False
        #: New callbacks are refused (503); set once those in flight have finished.
        self.closed = False

    @property
    def active(self) -> int:
        return self._active

    def enter(self) -> bool:
        """Start a request; False when the process no longer takes them (answer 503)."""
        if self.closed:
            return False
        if self._active == 0:
            self._idle = trio.Event()
        self._active += 1
        return True

    def leave(self) -> None:
        self._active -= 1
        if self._active == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until no request is in flight (at once when none is)."""
        await self._idle.wait()

    def close(self) -> None:
        self.closed = True
