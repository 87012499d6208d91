"""The world, stepped without I/O: determinism, time rules, interval books, and the truth."""

from __future__ import annotations

from simulator import wire
from simulator.model import INTERVAL_MS, interval_start
from simulator.truth import truth
from simulator.world import World

from .conftest import START_MS
from .consumer import ROUTING_API, Consumer, without, without_names


def _world(seed: int = 3, **kw: int) -> World:
    return World(seed=seed, queues=kw.get("queues", 3), agents=kw.get("agents", 20), start_ms=START_MS)


def _trace(world: World, steps: int, dt: float) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for _ in range(steps):
        for c in world.step(dt):
            out.append((c.queue.queue_id, c.observed_at_ms, c.changed_media, c.agents, tuple(sorted(c.media.items()))))
    return out


def test_same_seed_gives_identical_observations() -> None:
    assert _trace(_world(), 600, 0.5) == _trace(_world(), 600, 0.5)


def test_different_seed_gives_a_different_world() -> None:
    a, b = _world(1), _world(2)
    assert [q.queue_id for q in a.queues] != [q.queue_id for q in b.queues]


def test_queue_ids_are_uuids_and_names_are_human() -> None:
    w = _world(queues=20)
    assert len({q.queue_id for q in w.queues}) == 20
    assert len({q.name for q in w.queues}) == 20
    assert all(len(q.queue_id) == 36 and q.queue_id[14] == "4" for q in w.queues)
    assert all(" " in q.name for q in w.queues)


def test_first_step_emits_every_queue_then_only_changes() -> None:
    w = _world()
    first = w.step(0)
    assert {c.queue.queue_id for c in first} == {q.queue_id for q in w.queues}
    assert all(c.changed_media == ("voice", "chat") and c.agents_changed for c in first)
    assert w.step(0) == []


def test_observed_at_strictly_increases_per_queue_even_within_one_millisecond() -> None:
    w = _world()
    w.start_wave(rate_per_min=6000, duration_s=60)
    last: dict[str, int] = {}
    for _ in range(300):
        for c in w.step(0.0004):  # sub-millisecond steps: many changes share a wall millisecond
            assert c.observed_at_ms > last.get(c.queue.queue_id, -1)
            last[c.queue.queue_id] = c.observed_at_ms


def test_interval_rolls_over_at_the_half_hour_with_fresh_counters() -> None:
    w = _world()
    w.step(0)
    boundary = interval_start(START_MS) + INTERVAL_MS
    w.step((boundary - START_MS) / 1000 - 1)
    before = w.media_state(w.queues[0].queue_id, "voice").interval
    assert before.start_ms == interval_start(START_MS) and before.offered > 0
    changes = w.step(1)
    after = w.media_state(w.queues[0].queue_id, "voice").interval
    assert after.start_ms == boundary and after.end_ms == boundary + INTERVAL_MS
    assert after.offered <= 1 and after.answered <= 1
    assert {c.queue.queue_id for c in changes} == {q.queue_id for q in w.queues}


def test_interval_books_are_consistent() -> None:
    w = _world()
    w.step(0)
    w.step(900)
    for q in w.queues:
        for m in q.media:
            iv = w.media_state(q.queue_id, m).interval
            assert iv.sl_denominator == iv.answered + iv.abandoned
            assert 0 <= iv.sl_numerator <= iv.sl_denominator
            assert iv.answered + iv.abandoned <= iv.offered
            assert iv.answered_sum_ms >= 0 and iv.abandoned_sum_ms >= iv.abandoned
            assert iv.sl_target == q.sl_target


def test_a_wave_raises_arrivals_on_its_queue_only() -> None:
    base, waved = _world(), _world()
    target = waved.queues[0].queue_id
    waved.start_wave(rate_per_min=600, duration_s=300, queue_id=target)
    for w in (base, waved):
        w.step(0)
        w.step(300)

    def offered(w: World, qid: str) -> int:
        return sum(w.media_state(qid, m).interval.offered for m in ("voice", "chat"))

    assert offered(waved, target) > offered(base, target) + 1000
    assert not waved.waves


def test_stopping_a_wave_ends_it() -> None:
    w = _world()
    wave = w.start_wave(rate_per_min=100, duration_s=600)
    assert w.stop_wave(wave.wave_id) and not w.stop_wave(wave.wave_id)


def test_waiting_longest_is_the_oldest_offer() -> None:
    w = _world(agents=1)
    w.start_wave(rate_per_min=300, duration_s=60)
    w.step(0)
    w.step(30)
    q = w.queues[0].queue_id
    details = w.waiting_details(q, "voice")
    assert details and [d.offered_ms for d in details] == sorted(d.offered_ms for d in details)
    assert w.media_state(q, "voice").longest_waiting_ms == details[0].offered_ms


def test_truth_equals_a_consumer_of_every_emitted_observation() -> None:
    w = _world()
    eventbus, notif = Consumer(), Consumer()
    for _ in range(400):
        for c in w.step(1.5):
            for m in c.eventbus_media:
                eventbus.queue_state(wire.queue_state(c, m))
            for _group, body in wire.observation_bodies(c):
                notif.observation_body(body)
    expected = without_names(truth(w)["queues"])
    assert without_names(eventbus.views()) == expected
    # the legacy observations body carries no tHandle: handled and AHT are not derivable from it
    no_aht = (*ROUTING_API, "interval.handled", "interval.ahtMs")
    assert without(notif.views(), *no_aht) == without(truth(w)["queues"], *no_aht)
