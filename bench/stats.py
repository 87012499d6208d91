"""Percentile summaries (nearest-rank), in milliseconds, as plain dicts ready for the JSON report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values; NaN for an empty sequence."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """``{"n", "p50", "p90", "p99", "max", "mean"}`` of durations given in seconds, reported in ms."""
    values = sorted(seconds)
    if not values:
        return {"n": 0, "p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50) * 1000, 3),
        "p90": round(percentile(values, 90) * 1000, 3),
        "p99": round(percentile(values, 99) * 1000, 3),
        "max": round(values[-1] * 1000, 3),
        "mean": round(sum(values) / len(values) * 1000, 3),
    }
