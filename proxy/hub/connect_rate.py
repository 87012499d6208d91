"""How fast new streams are admitted: a token bucket (``QC_CONNECT_RATE`` per second, one second's burst).

A reconnect storm — every wallboard of a site after a network blip, or the clients of a restarted
instance — costs a snapshot and a response head per connection; admitting 5,000 in the same instant
would stall the frames of everyone already connected. Beyond the rate a client gets 503 with a jittered
``Retry-After`` (:mod:`proxy.stream.admission` asks it) and comes back when there is room.
"""

from __future__ import annotations

from collections.abc import Callable

import trio


class ConnectRate:
    __slots__ = ("_at", "_burst", "_clock", "_tokens", "per_s")

    def __init__(self, per_s: float, *, clock: Callable[[], float] = trio.current_time) -> None:
        self.per_s = per_s
        self._clock = clock
        self._burst = max(1.0, per_s)
        self._tokens = self._burst
        self._at: float | None = None

    def take(self) -> bool:
        """Admit one connection now (True), or not (False). ``per_s`` 0: always."""
        if self.per_s <= 0:
            return True
        now = self._clock()
        if self._at is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
