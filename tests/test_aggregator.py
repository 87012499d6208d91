import itertools
import math

import trio

from proxy.hub.memory_broker import MemoryBroker
from proxy.metrics import Metrics
from proxy.state.aggregator import Aggregator, Throttle
from proxy.state.observation import QueueObservation
from proxy.state.reducer import Reducer
from tests.test_reducer import t


def test_throttle_leading_then_trailing_edge():
    throttle = Throttle(0.5)
    assert throttle.last == -math.inf and throttle.delay(100.0) == 0.0  # isolated: at once
    throttle.fired(100.0)
    assert abs(throttle.delay(100.2) - 0.3) < 1e-9
    assert throttle.delay(100.7) == 0.0


class RecordingBroker(MemoryBroker):
    def __init__(self) -> None:
        super().__init__(ring_size=100, epoch="e")
        self.times: list[float] = []

    def publish(self, views, removed=()):
        self.times.append(trio.current_time())
        return super().publish(views, removed)


async def test_under_load_at_most_one_frame_per_window(autojump_clock):
    reducer, broker = Reducer(), RecordingBroker()
    agg = Aggregator(reducer, broker.publish, window_s=0.5, metrics=Metrics())
    async with trio.open_nursery() as nursery:
        await nursery.start(agg.serve)
        first_mark = trio.current_time()
        for step in range(100):  # 10 s of events every 0.1 s
            reducer.apply(QueueObservation(f"q{step % 7}", "voice", t(step), waiting=step))
            agg.mark(f"q{step % 7}", trio.current_time())
            await trio.sleep(0.1)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    times = broker.times
    assert times[0] == first_mark  # leading edge: the first change went out at once
    assert len(times) <= 10 / 0.5 + 2
    assert all(b - a >= 0.5 - 1e-9 for a, b in itertools.pairwise(times))
    # every queue's newest value went out
    assert {q: broker.snapshot().views[q].body["waiting"] for q in broker.snapshot().views} == {
        f"q{i}": max(s for s in range(100) if s % 7 == i) for i in range(7)
    }


async def test_an_outside_flush_does_not_stop_later_publishing(autojump_clock):
    reducer, broker = Reducer(), RecordingBroker()
    agg = Aggregator(reducer, broker.publish, window_s=0.5, metrics=Metrics())
    async with trio.open_nursery() as nursery:
        await nursery.start(agg.serve)
        await trio.sleep(1)  # the loop waits for a mark
        agg.flush()  # from outside, while the loop waits
        reducer.apply(QueueObservation("q1", "voice", t(1), waiting=1))
        agg.mark("q1", trio.current_time())
        await trio.sleep(1)
        reducer.apply(QueueObservation("q1", "voice", t(2), waiting=2))
        agg.mark("q1", trio.current_time())
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert broker.snapshot().views["q1"].body["waiting"] == 2
    assert len(broker.times) == 2


async def test_isolated_change_goes_out_at_once_and_a_burst_at_the_window_end(autojump_clock):
    reducer, broker = Reducer(), RecordingBroker()
    agg = Aggregator(reducer, broker.publish, window_s=0.5, metrics=Metrics())
    async with trio.open_nursery() as nursery:
        await nursery.start(agg.serve)
        await trio.sleep(10)
        start = trio.current_time()
        reducer.apply(QueueObservation("q0", "voice", t(1), waiting=1))
        agg.mark("q0", start)
        await trio.sleep(0.1)
        for i in range(1, 6):
            reducer.apply(QueueObservation(f"q{i}", "voice", t(1 + i), waiting=i))
            agg.mark(f"q{i}", trio.current_time())
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert broker.times == [start, start + 0.5]  # leading edge at once; trailing edge at the window's end
    assert list(broker.snapshot().views) == [f"q{i}" for i in range(6)]


async def test_the_window_is_measured_from_the_start_of_a_publish_not_its_end(autojump_clock):
    """A publish that takes time (fan-out to many clients) must not push every later window back by it."""
    reducer = Reducer()
    starts: list[float] = []

    def slow_publish(views, removed=()):
        starts.append(trio.current_time())
        autojump_clock.jump(0.03)  # 30 ms of fan-out, on the same clock the throttle reads

    agg = Aggregator(reducer, slow_publish, window_s=0.5, metrics=Metrics())
    async with trio.open_nursery() as nursery:
        await nursery.start(agg.serve)
        for step in range(60):  # 6 s of events every 0.1 s: every window has a change
            reducer.apply(QueueObservation("q", "voice", t(step), waiting=step))
            agg.mark("q", trio.current_time())
            await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(abs(g - 0.5) < 1e-6 for g in gaps), gaps  # not 0.53
