"""The interval clock rolls a quiet queue over at the boundary, by the clock, on a mock clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import trio

from proxy.state.interval_clock import run_interval_clock
from proxy.state.observation import IntervalObservation, QueueObservation
from proxy.state.reducer import Reducer

START = datetime(2026, 11, 30, 9, 59, 58, tzinfo=UTC)
OLD = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


async def test_a_quiet_queue_shows_the_new_interval_with_zero_figures_at_the_boundary(autojump_clock: object) -> None:
    reducer = Reducer()
    reducer.apply(QueueObservation("q1", "voice", None, interval=IntervalObservation(
        OLD, OLD + timedelta(minutes=30), offered=12, sl_numerator=3, sl_denominator=4, sl_target=0.8)))
    marked: list[str] = []
    t0 = trio.current_time()

    def now() -> datetime:  # the platform's now moves with the mock clock
        return START + timedelta(seconds=trio.current_time() - t0)

    async with trio.open_nursery() as nursery:
        await nursery.start(run_interval_clock, reducer, lambda q, at: marked.append(q), now)
        await trio.sleep(1.5)
        assert reducer.view("q1").body["interval"]["offered"] == 12 and marked == []  # 09:59:59.5
        await trio.sleep(1.0)  # 10:00:00.5: past the boundary, and nothing arrived
        nursery.cancel_scope.cancel()
    iv = reducer.view("q1").body["interval"]
    assert marked == ["q1"]
    assert (iv["start"], iv["offered"], iv["serviceLevel"], iv["serviceLevelTarget"]) == \
        ("2026-11-30T10:00:00.000Z", 0, None, 0.8)
