"""Client-side rate limiting per token: the platform allows 300 requests per minute per OAuth token.

The limiter never lets more than ``per_window`` requests of one token start within any
``window_s`` (sliding window), and blocks a token entirely while the platform says so: after a
``429`` (``Retry-After``, default 3 s as in the official SDKs) or when ``inin-ratelimit-count``
reaches ``inin-ratelimit-allowed`` (for ``inin-ratelimit-reset`` seconds). Times are trio's clock.

A wait read from a header is capped at :data:`MAX_WAIT_S`: a buggy or hostile answer
(``Retry-After: 99999999999``) must not park a token, and every request behind it, for days.
Each capped value is counted (``capped``) and reported to the optional ``on_capped`` callback.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping

import trio

#: Used when a 429 carries no (or an unreadable) ``Retry-After`` (SDK ``retryAfterDefaultMs``).
DEFAULT_RETRY_AFTER_S = 3.0

#: The longest wait a response header can impose (seconds); longer values are cut to this.
MAX_WAIT_S = 300.0

#: The header names passed to ``on_capped``.
RETRY_AFTER = "retry-after"
RATELIMIT_RESET = "inin-ratelimit-reset"

OnCapped = Callable[[str], None]
"""Told the (lower-case) name of a header whose wait was longer than :data:`MAX_WAIT_S`."""


def header_wait_s(headers: Mapping[str, str], name: str, *, default: float,
                  on_capped: OnCapped | None = None) -> float:
    """Seconds to wait from header ``name`` (a number of seconds), at most :data:`MAX_WAIT_S`.

    ``default`` when the header is absent or not a finite number >= 0 (an HTTP-date
    ``Retry-After`` included). A longer value gives :data:`MAX_WAIT_S` and calls ``on_capped(name)``.
    """
    raw = headers.get(name)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        return default
    if value > MAX_WAIT_S:
        if on_capped is not None:
            on_capped(name)
        return MAX_WAIT_S
    return value


def retry_after_s(headers: Mapping[str, str], default: float = DEFAULT_RETRY_AFTER_S, *,
                  on_capped: OnCapped | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds form), capped; see :func:`header_wait_s`."""
    return header_wait_s(headers, RETRY_AFTER, default=default, on_capped=on_capped)


class _Window:
    __slots__ = ("blocked_until", "sent")

    def __init__(self) -> None:
        self.sent: deque[float] = deque()
        self.blocked_until = -math.inf


class RateLimiter:
    """Per-key (one key per token) sliding-window limiter; keys of old tokens are dropped.

    ``on_capped`` is called once per header wait cut to :data:`MAX_WAIT_S` (with the header name).
    """

    def __init__(self, *, per_window: int = 300, window_s: float = 60.0, max_keys: int = 4,
                 clock: Callable[[], float] = trio.current_time, on_capped: OnCapped | None = None) -> None:
        if per_window < 1 or window_s <= 0:
            raise ValueError("per_window must be >= 1 and window_s > 0")
        self.per_window = per_window
        self.window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._on_capped = on_capped
        self._windows: dict[int, _Window] = {}
        self.waited_s = 0.0
        """Total time callers spent waiting here (observability and tests)."""
        self.capped = 0
        """Header waits cut to :data:`MAX_WAIT_S` so far."""

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

    def _note_capped(self, header: str) -> None:
        self.capped += 1
        if self._on_capped is not None:
            self._on_capped(header)

    def observe(self, key: int, status_code: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: ``429`` blocks for ``Retry-After``; an exhausted allowance until reset.

        Both waits are capped at :data:`MAX_WAIT_S`. A reset that is absent or unreadable (negative,
        NaN, infinite, not a number) counts as one ``window_s``.
        """
        if status_code == 429:
            self.block(key, retry_after_s(headers, on_capped=self._note_capped))
            return
        try:
            count = int(headers["inin-ratelimit-count"])
            allowed = int(headers["inin-ratelimit-allowed"])
        except (KeyError, ValueError):
            return
        if allowed > 0 and count >= allowed:
            self.block(key, header_wait_s(headers, RATELIMIT_RESET, default=self.window_s,
                                          on_capped=self._note_capped))
