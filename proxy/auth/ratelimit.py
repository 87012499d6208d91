"""Client-side rate limiting per token: the platform allows 300 requests per minute per OAuth token.

The limiter never lets more than ``per_window`` requests of one token start within any
``window_s`` (sliding window), and blocks a token entirely while the platform says so: after a
``429`` (``Retry-After``, default 3 s as in the official SDKs) or when ``inin-ratelimit-count``
reaches ``inin-ratelimit-allowed`` (for ``inin-ratelimit-reset`` seconds). Times are trio's clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping

import trio

#: Used when a 429 carries no (or an unreadable) ``Retry-After`` (SDK ``retryAfterDefaultMs``).
DEFAULT_RETRY_AFTER_S = 3.0


def retry_after_s(headers: Mapping[str, str], default: float = DEFAULT_RETRY_AFTER_S) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds form); ``default`` when absent/bad."""
    raw = headers.get("retry-after")
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    return value if math.isfinite(value) and value >= 0 else default


class _Window:
    __slots__ = ("blocked_until", "sent")

    def __init__(self) -> None:
        self.sent: deque[float] = deque()
        self.blocked_until = -math.inf


class RateLimiter:
    """Per-key (one key per token) sliding-window limiter; keys of old tokens are dropped."""

    def __init__(self, *, per_window: int = 300, window_s: float = 60.0, max_keys: int = 4,
                 clock: Callable[[], float] = trio.current_time) -> None:
        if per_window < 1 or window_s <= 0:
            raise ValueError("per_window must be >= 1 and window_s > 0")
        self.per_window = per_window
        self.window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._windows: dict[int, _Window] = {}
        self.waited_s = 0.0
        """Total time callers spent waiting here (observability and tests)."""

    def _window(self, key: int) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
            while len(self._windows) > self._max_keys:  # tokens are replaced, never reused
                del self._windows[next(iter(self._windows))]
        return window

    async def acquire(self, key: int) -> None:
        """Wait until one more request of ``key`` may start, and count it."""
        window = self._window(key)
        while True:
            now = self._clock()
            if window.blocked_until > now:
                await self._sleep_until(window.blocked_until)
                continue
            while window.sent and window.sent[0] <= now - self.window_s:
                window.sent.popleft()
            if len(window.sent) < self.per_window:
                window.sent.append(now)
                return
            await self._sleep_until(window.sent[0] + self.window_s)

    async def _sleep_until(self, deadline: float) -> None:
        start = self._clock()
        await trio.sleep_until(deadline)
        self.waited_s += self._clock() - start

    def block(self, key: int, seconds: float) -> None:
        """No request of ``key`` starts within the next ``seconds``."""
        window = self._window(key)
        window.blocked_until = max(window.blocked_until, self._clock() + seconds)

    def observe(self, key: int, status_code: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: ``429`` blocks for ``Retry-After``; an exhausted allowance until reset."""
        if status_code == 429:
            self.block(key, retry_after_s(headers))
            return
        try:
            count = int(headers["inin-ratelimit-count"])
            allowed = int(headers["inin-ratelimit-allowed"])
            reset = float(headers.get("inin-ratelimit-reset", self.window_s))
        except (KeyError, ValueError):
            return
        if allowed > 0 and count >= allowed:
            self.block(key, max(0.0, reset))
