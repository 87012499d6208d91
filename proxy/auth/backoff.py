"""Jittered exponential backoff: how long to wait before the next attempt after a failure."""

from __future__ import annotations

import random


class Backoff:
    """``initial_s``, multiplied by ``factor`` per failure up to ``max_s``, with "equal jitter".

    Each delay lies in ``[ceiling / 2, ceiling]`` (half fixed, half drawn from ``rng``), where the
    ceiling is ``min(max_s, initial_s * factor ** failures)``. The jitter keeps many proxies (or
    many lanes of one proxy) from retrying in lockstep after a shared outage. :meth:`reset` after a
    success. Any number of failures is fine: the ceiling stops growing at ``max_s``.
    """

    def __init__(self, *, initial_s: float = 1.0, max_s: float = 60.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        if initial_s <= 0 or max_s < initial_s or factor < 1:
            raise ValueError("need 0 < initial_s <= max_s and factor >= 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self._rng = rng or random.Random()
        self._ceiling = initial_s
        self.failures = 0
        """Failures since the last :meth:`reset` (observability and tests)."""

    def next(self) -> float:
        """The delay before the next attempt (seconds); counts one more failure."""
        ceiling = self._ceiling
        # grown step by step rather than as factor ** failures, which overflows a float after
        # ~1000 failures (a long outage) and would crash the retry loop that asked
        self._ceiling = min(self.max_s, ceiling * self.factor)
        self.failures += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self._ceiling = self.initial_s
        self.failures = 0
