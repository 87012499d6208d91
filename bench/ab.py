"""The A/B decision of ``queuecast bench --compare``: pure statistics over interleaved rounds.

Each round measures every figure once on the base (A) and once on the candidate (B), back to back,
so round ``i`` gives a *pair*. A slow minute of the machine slows both members of a pair, so the
statistic is built on the per-pair log ratio ``log(B_i / A_i)``, not on the two pooled samples:

* **estimate** — the 20 % trimmed mean of the log ratios, exponentiated (a geometric-mean ratio
  that one wild round of eight cannot move);
* **interval** — a percentile bootstrap of that statistic over rounds (pairs resampled with
  replacement, ``resamples`` times, from a fixed seed, so the same samples give the same verdict);
* **verdict** — for a figure where lower is better, ``"worse"`` when the estimate is at least
  ``1 + threshold`` *and* the 95 % interval lies wholly above 1 (the change is real), ``"better"``
  for the mirror image, else ``"no significant change"``. This is asv ``continuous``'s rule (a
  factor and a significance test); see docs/bench.md for why it is not "lower bound ≥ 1.10".

No I/O, no clock: :func:`decide` is a function of its arguments.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]
Verdict = Literal["worse", "better", "no significant change"]

#: A change smaller than this fraction is never called, however certain (10 %).
THRESHOLD = 0.10
#: Two-sided confidence of the interval.
CONFIDENCE = 0.95
#: Bootstrap resamples; 2,000 puts the 2.5 % quantile on the 50th smallest value.
RESAMPLES = 2000
SEED = 20261130


class TooFewRounds(ValueError):
    """Fewer than three usable pairs: no interval can be drawn from that."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One figure's A/B result. ``ratio``/``low``/``high`` are candidate/base (1.0 = unchanged)."""

    figure: str
    better: Better
    base: float
    """Median of the base's per-round values."""
    candidate: float
    """Median of the candidate's per-round values."""
    ratio: float
    low: float
    high: float
    pairs: int
    verdict: Verdict

    @property
    def change(self) -> float:
        """Relative change of the estimate: +0.15 = the candidate's figure is 15 % higher."""
        return self.ratio - 1.0


def trimmed_mean(values: Sequence[float], *, trim: float = 0.2) -> float:
    """Mean after dropping ``floor(trim * n)`` values from each end. Raises ``ValueError`` when empty."""
    if not values:
        raise ValueError("trimmed_mean of no values")
    ordered = sorted(values)
    k = int(trim * len(ordered))
    kept = ordered[k:len(ordered) - k] or ordered
    return sum(kept) / len(kept)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def log_ratios(base: Sequence[float], candidate: Sequence[float]) -> list[float]:
    """``log(candidate_i / base_i)`` for every round where both values are finite and positive."""
    if len(base) != len(candidate):
        raise ValueError(f"base has {len(base)} rounds, candidate {len(candidate)}: rounds must pair up")
    return [math.log(b / a) for a, b in zip(base, candidate, strict=True)
            if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)]


def bootstrap_interval(logs: Sequence[float], *, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                       seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the trimmed mean of ``logs`` (in log space)."""
    rng = random.Random(seed)
    n = len(logs)
    stats = sorted(trimmed_mean([logs[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    tail = (1 - confidence) / 2
    lo_i = max(0, math.floor(tail * resamples))
    hi_i = min(resamples - 1, math.ceil((1 - tail) * resamples) - 1)
    return stats[lo_i], stats[hi_i]


def decide(figure: str, base: Sequence[float], candidate: Sequence[float], *, better: Better = "lower",
           threshold: float = THRESHOLD, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
           seed: int = SEED) -> Decision:
    """The verdict on one figure from its paired per-round values (``base[i]`` and ``candidate[i]`` were
    measured in the same round). Raises :class:`TooFewRounds` with fewer than three usable pairs."""
    logs = log_ratios(base, candidate)
    if len(logs) < 3:
        raise TooFewRounds(f"{figure}: {len(logs)} usable rounds, need at least 3")
    estimate = trimmed_mean(logs)
    lo, hi = bootstrap_interval(logs, confidence=confidence, resamples=resamples, seed=seed)
    ratio, low, high = math.exp(estimate), math.exp(lo), math.exp(hi)
    up = ratio >= 1 + threshold and low > 1.0
    down = ratio <= 1 / (1 + threshold) and high < 1.0
    verdict: Verdict = "no significant change"
    if up or down:
        verdict = "worse" if up == (better == "lower") else "better"
    return Decision(figure, better, median(base), median(candidate), ratio, low, high, len(logs), verdict)


def failed(decisions: Sequence[Decision]) -> bool:
    """True when any figure is ``"worse"``: the run exits 1."""
    return any(d.verdict == "worse" for d in decisions)
