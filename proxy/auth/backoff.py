"""Jittered exponential backoff: how long to wait before the next attempt after a failure."""

from __future__ import annotations

import random


class Backoff:
    """``initial_s``, doubling per failure up to ``max_s``, with "equal jitter" (half fixed, half random).

    The jitter keeps many proxies (or many lanes of one proxy) from retrying in lockstep after a
    shared outage. :meth:`reset` after a success.
    """

    def __init__(self, *, initial_s: float = 1.0, max_s: float = 60.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        if initial_s <= 0 or max_s < initial_s or factor < 1:
            raise ValueError("need 0 < initial_s <= max_s and factor >= 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self._rng = rng or random.Random()
        self.failures = 0

    def next(self) -> float:
        """The delay before the next attempt (seconds); counts one more failure."""
        ceiling = min(self.max_s, self.initial_s * self.factor**self.failures)
        self.failures += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
