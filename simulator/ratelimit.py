"""Per-token fixed-window rate limit with the platform's ``inin-ratelimit-*`` headers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import trio


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    count: int
    limit: int
    reset_s: int
    """Whole seconds until the window resets (>= 1)."""

    def headers(self) -> dict[str, str]:
        h = {
            "inin-ratelimit-count": str(self.count),
            "inin-ratelimit-allowed": str(self.limit),
            "inin-ratelimit-reset": str(self.reset_s),
        }
        if not self.allowed:
            h["Retry-After"] = str(self.reset_s)
        return h


class RateLimiter:
    """``limit`` requests per token per ``window_s`` real seconds; the window opens on the first request."""

    def __init__(self, *, limit: int, window_s: float, clock: Callable[[], float] = trio.current_time) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._storm_until = -math.inf

    def storm(self, seconds: float) -> None:
        """For the next ``seconds`` every request of every token is refused (429, ``Retry-After`` =
        what remains of the storm), as when the allowance is spent: a 429 storm."""
        self._storm_until = self._clock() + seconds

    def hit(self, key: str) -> Verdict:
        """Count one request for ``key`` and say whether it may proceed."""
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if now < self._storm_until:
            return Verdict(False, max(count, self.limit + 1), self.limit, max(1, math.ceil(self._storm_until - now)))
        reset = max(1, math.ceil(start + self.window_s - now))
        return Verdict(count <= self.limit, count, self.limit, reset)
