"""Traffic: when interactions arrive. A base rate shaped by a day curve, split by media, plus waves.

Arrivals are Poisson per (queue, mediaType) and sub-step. Every draw comes from the world's
``random.Random``; ``arrivals`` is a generator so the caller's own draws per arrival (patience, id)
interleave with the arrival times exactly as they always have (same seed, same world).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from .model import MEDIA_TYPES, QueueInfo

MEDIA_SHARE: Final = {"voice": 0.7, "chat": 0.3}


@dataclass(frozen=True, slots=True)
class Wave:
    """Extra arrivals: ``rate_per_min`` more per minute on ``queue_id`` (None = every queue)."""

    wave_id: str
    queue_id: str | None
    media: str | None
    rate_per_min: float
    start_ms: int
    end_ms: int


def day_curve(t_ms: int) -> float:
    """Arrival-rate multiplier by simulated UTC hour: a morning and an afternoon peak, never below 0.6."""
    hour = (t_ms % 86_400_000) / 3_600_000
    return 0.6 + 1.0 * math.exp(-(((hour - 10.5) / 2.5) ** 2)) + 0.8 * math.exp(-(((hour - 15.0) / 2.5) ** 2))


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal beyond 200)."""
    if lam <= 0:
        return 0
    if lam > 200:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Traffic:
    """The arrival process: base rate per queue, day curve, media split and running waves."""

    def __init__(self, *, arrivals_per_min: float) -> None:
        self.arrivals_per_min = arrivals_per_min
        self._waves: dict[str, Wave] = {}
        self._wave_seq = 0

    @property
    def waves(self) -> tuple[Wave, ...]:
        return tuple(self._waves.values())

    def start_wave(
        self, *, rate_per_min: float, duration_s: float, now_ms: int, queue_id: str | None, media: str | None
    ) -> Wave:
        """Add ``rate_per_min`` arrivals per simulated minute from ``now_ms`` for ``duration_s``
        simulated seconds. Raises ``ValueError`` for an unknown media type or a negative rate or
        duration (the caller checks the queue)."""
        if media is not None and media not in MEDIA_TYPES:
            raise ValueError(f"unknown mediaType {media!r}")
        if rate_per_min < 0 or duration_s <= 0:
            raise ValueError("ratePerMin must be >= 0 and durationS > 0")
        self._wave_seq += 1
        wave = Wave(
            wave_id=f"wave-{self._wave_seq}",
            queue_id=queue_id,
            media=media,
            rate_per_min=rate_per_min,
            start_ms=now_ms,
            end_ms=now_ms + round(duration_s * 1000),
        )
        self._waves[wave.wave_id] = wave
        return wave

    def stop_wave(self, wave_id: str) -> bool:
        """End a wave now; False when it is not running."""
        return self._waves.pop(wave_id, None) is not None

    def drop_queue(self, queue_id: str) -> None:
        """Stop every wave aimed at ``queue_id`` (waves on every queue keep running)."""
        for wave_id in [w.wave_id for w in self._waves.values() if w.queue_id == queue_id]:
            del self._waves[wave_id]

    def prune(self, t_ms: int) -> None:
        """Forget waves that ended by ``t_ms``."""
        for wave_id in [w.wave_id for w in self._waves.values() if w.end_ms <= t_ms]:
            del self._waves[wave_id]

    def rate_per_ms(self, queue_id: str, media: str, t_ms: int) -> float:
        per_min = self.arrivals_per_min * day_curve(t_ms) * MEDIA_SHARE.get(media, 0.0)
        for w in self._waves.values():
            if w.queue_id in (None, queue_id) and (w.media is None or w.media == media):
                per_min += w.rate_per_min * (1.0 if w.media else MEDIA_SHARE.get(media, 0.0))
        return per_min / 60_000.0

    def arrivals(
        self, rng: random.Random, queues: tuple[QueueInfo, ...], t0: int, t1: int
    ) -> Iterator[tuple[str, str, int]]:
        """(queueId, mediaType, offer time) of each arrival in ``[t0, t1)``, queue by queue, media by
        media; the rate is taken at ``t0``."""
        dt = t1 - t0
        for q in queues:
            for m in q.media:
                rate = self.rate_per_ms(q.queue_id, m, t0)
                for _ in range(poisson(rng, rate * dt)):
                    yield q.queue_id, m, t0 + rng.randrange(dt)
