"""``Backoff``: the ceiling doubles from ``initial_s`` to ``max_s``; each delay lies in [ceiling/2, ceiling]."""

from __future__ import annotations

import random

import pytest

from proxy.auth.backoff import Backoff


class FixedDraw(random.Random):
    """An rng whose ``uniform(a, b)`` always lands at ``share`` of the way from ``a`` to ``b``."""

    def __init__(self, share: float) -> None:
        super().__init__(0)
        self.share = share

    def uniform(self, a: float, b: float) -> float:
        return a + self.share * (b - a)


def delays(backoff: Backoff, n: int) -> list[float]:
    return [backoff.next() for _ in range(n)]


def test_ceiling_doubles_from_initial_and_stops_at_max() -> None:
    backoff = Backoff(initial_s=1.0, max_s=30.0, rng=FixedDraw(1.0))
    assert delays(backoff, 8) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.failures == 8


def test_shortest_delay_is_half_the_ceiling() -> None:
    backoff = Backoff(initial_s=1.0, max_s=30.0, rng=FixedDraw(0.0))
    assert delays(backoff, 7) == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]


def test_other_factors_grow_by_that_factor() -> None:
    assert delays(Backoff(initial_s=1.0, max_s=30.0, factor=3.0, rng=FixedDraw(1.0)), 5) == [1.0, 3.0, 9.0, 27.0, 30.0]
    assert delays(Backoff(initial_s=2.0, max_s=30.0, factor=1.0, rng=FixedDraw(1.0)), 3) == [2.0, 2.0, 2.0]


def test_reset_starts_again_from_initial() -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0, rng=FixedDraw(1.0))
    assert delays(backoff, 4) == [1.0, 2.0, 4.0, 8.0]
    backoff.reset()
    assert backoff.failures == 0
    assert delays(backoff, 3) == [1.0, 2.0, 4.0]


def test_jitter_spreads_over_the_upper_half_of_each_ceiling() -> None:
    rng = random.Random(1234)
    ceilings = [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    seen: list[list[float]] = [[] for _ in ceilings]
    for _ in range(500):
        backoff = Backoff(initial_s=0.5, max_s=5.0, rng=rng)
        for i, delay in enumerate(delays(backoff, len(ceilings))):
            seen[i].append(delay)
    for ceiling, values in zip(ceilings, seen, strict=True):
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        # really random: both ends of the range are reached, not one fixed point
        assert min(values) < 0.55 * ceiling and max(values) > 0.95 * ceiling


def test_a_very_long_outage_never_overflows() -> None:
    # 2.0 ** 1100 overflows a float: the ceiling must stop growing, not be recomputed from the count
    backoff = Backoff(initial_s=1.0, max_s=60.0, rng=FixedDraw(1.0))
    values = delays(backoff, 5000)
    assert values[-1] == 60.0 and max(values) == 60.0
    assert backoff.failures == 5000


@pytest.mark.parametrize(
    ("initial_s", "max_s", "factor"),
    [(0.0, 1.0, 2.0), (-1.0, 1.0, 2.0), (2.0, 1.0, 2.0), (1.0, 2.0, 0.5)],
)
def test_invalid_parameters_are_rejected(initial_s: float, max_s: float, factor: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial_s=initial_s, max_s=max_s, factor=factor)
