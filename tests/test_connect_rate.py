"""The stream admission's token bucket (``QC_CONNECT_RATE``), on a fake clock."""

from __future__ import annotations

from proxy.hub.connect_rate import ConnectRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_one_seconds_worth_then_the_rate() -> None:
    clock = Clock()
    rate = ConnectRate(10, clock=clock)
    assert [rate.take() for _ in range(12)] == [True] * 10 + [False] * 2
    clock.now += 0.5  # five tokens back
    assert [rate.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 60  # an idle minute refills to the burst, not beyond
    assert sum(rate.take() for _ in range(20)) == 10


def test_zero_means_no_limit_and_a_rate_below_one_still_admits_one() -> None:
    assert all(ConnectRate(0).take() for _ in range(10_000))
    clock = Clock()
    slow = ConnectRate(0.5, clock=clock)
    assert [slow.take(), slow.take()] == [True, False]
    clock.now += 2
    assert slow.take()
