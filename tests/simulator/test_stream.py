"""The observations message stream, stepped without I/O: the real shape, its cadence, both routing-status
modes, both agent metrics, interval rollover, and the legacy shape."""

from __future__ import annotations

import itertools
from collections import defaultdict

from simulator import realwire, wire
from simulator.model import INTERVAL_MS, Durations, IntervalStats, interval_start
from simulator.stream import ObservationMessage, ObservationStream, coalesce
from simulator.truth import truth
from simulator.world import World

from . import shapes
from .conftest import START_MS
from .consumer import ROUTING_API, Consumer, without

STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
COUNTS = {"oWaiting": "waiting", "oInteracting": "interacting", "oAlerting": "alerting"}


def _world(start_ms: int = START_MS, agents: int = 20) -> World:
    return World(seed=3, queues=3, agents=agents, start_ms=start_ms)


def _is_instant(msg: ObservationMessage) -> bool:
    start, end = msg.body["data"][0]["interval"].split("/")
    return start == end


def _counts(w: World) -> dict[tuple[str, str], dict[str, int]]:
    out = {}
    for q in w.queues:
        for m in q.media:
            st = w.media_state(q.queue_id, m)
            out[(q.queue_id, m)] = {"waiting": st.waiting, "interacting": st.interacting, "alerting": st.alerting}
    return out


def test_real_instant_messages_carry_only_the_counts_that_changed() -> None:
    w, stream = _world(), ObservationStream(shape="real")
    before = None
    sizes = []
    for i in range(600):
        msgs = stream.messages(w.step(0 if i == 0 else 0.5), w.now_ms)
        now = _counts(w)
        sent = {}
        for msg in msgs:
            if msg.group.startswith("instant:"):
                shapes.check(shapes.REAL_INSTANT_BODY, msg.body)
                assert len(msg.body["data"]) == 1 and _is_instant(msg)
                key = (msg.queue_id, msg.body["group"]["mediaType"])
                sent[key] = {COUNTS[m["metric"]]: m["stats"]["count"] for m in msg.body["data"][0]["metrics"]}
        for key, values in now.items():
            changed = {k: v for k, v in values.items() if before is None or before[key][k] != v}
            assert sent.get(key, {}) == changed, key  # exactly the changed counts, with their new values
        sizes.extend(len(v) for v in sent.values())
        before = now
    assert 1 in sizes and 3 in sizes, "single-metric messages happen, and whole ones at the start"


def test_real_bodies_never_carry_longest_waiting_nor_mix_instant_and_interval() -> None:
    w, stream = _world(), ObservationStream(shape="real")
    w.start_wave(rate_per_min=300, duration_s=60)
    msgs = list(itertools.chain.from_iterable(stream.messages(w.step(0.5), w.now_ms) for _ in range(400)))
    assert any(not _is_instant(m) for m in msgs) and any(_is_instant(m) for m in msgs)
    for msg in msgs:
        shapes.check(shapes.REAL_BODY, msg.body)
        assert len(msg.body["data"]) == 1
        assert all(m["metric"] != "oLongestWaiting" for m in msg.body["data"][0]["metrics"])


def test_interval_metrics_with_nothing_to_count_are_left_out() -> None:
    # the public capture: two callers abandoned, nobody answered -> no tAnswered (nor tHandle)
    iv = IntervalStats(
        start_ms=interval_start(START_MS),
        end_ms=interval_start(START_MS) + INTERVAL_MS,
        offered=2,
        t_abandon=Durations().plus(4000).plus(9000),
        t_acd=Durations().plus(4000).plus(9000),
        sl_denominator=2,
        sl_target=0.5,
    )
    data = realwire.interval_body("q", "voice", iv)["data"]
    assert data[0]["interval"] == "2026-11-27T21:00:00.000Z/2026-11-27T21:30:00.000Z"
    metrics = {m["metric"]: m["stats"] for m in data[0]["metrics"]}
    assert list(metrics) == ["tAbandon", "nOffered", "tAcd", "oServiceLevel", "tWait"]
    assert metrics["tAbandon"] == {"max": 9000, "min": 4000, "count": 2, "sum": 13000}
    assert metrics["oServiceLevel"] == {"ratio": 0.0, "numerator": 0, "denominator": 2, "target": 0.5}
    # early in an interval an agent may finish a call offered in the previous one: tHandle alone
    handled = IntervalStats(start_ms=iv.start_ms, end_ms=iv.end_ms, t_handle=Durations().plus(61_000))
    body = realwire.interval_body("q", "voice", handled)
    assert body["data"][0]["metrics"] == [
        {"metric": "tHandle", "stats": {"max": 61_000, "min": 61_000, "count": 1, "sum": 61_000}}
    ]


def test_real_interval_messages_name_the_interval_and_carry_the_worlds_figures() -> None:
    w, stream = _world(), ObservationStream(shape="real", interval_every_ms=0)
    names_seen: set[str] = set()
    for i in range(900):
        for msg in stream.messages(w.step(0 if i == 0 else 1.0), w.now_ms):
            if _is_instant(msg):
                continue
            shapes.check(shapes.REAL_INTERVAL_BODY, msg.body)
            media = msg.body["group"]["mediaType"]
            iv = w.media_state(msg.queue_id, media).interval
            assert msg.body["data"][0]["interval"] == wire.interval_text(iv)
            metrics = {m["metric"]: m["stats"] for m in msg.body["data"][0]["metrics"]}
            names_seen |= set(metrics)
            expected = {
                "nOffered": iv.offered,
                "tAnswered": iv.answered,
                "tAbandon": iv.abandoned,
                "tHandle": iv.handled,
                "tAlert": iv.t_alert.count,
                "tNotResponding": iv.t_not_responding.count,
                "tAcd": iv.t_acd.count,
                "tWait": iv.t_acd.count,
                "oServiceLevel": iv.sl_denominator,
            }
            assert set(metrics) == {k for k, v in expected.items() if v}, "present exactly when non-zero"
            for name, stats in metrics.items():
                assert stats.get("count", stats.get("denominator")) == expected[name], name
            if "tHandle" in metrics:
                assert metrics["tHandle"]["sum"] == iv.handled_sum_ms
            if "tAnswered" in metrics:
                assert metrics["tAnswered"]["sum"] == iv.answered_sum_ms
    assert {"tAnswered", "tHandle", "tAbandon", "tNotResponding", "oServiceLevel"} <= names_seen


def test_interval_messages_come_at_most_once_per_interval_message_s_and_the_newest_figures_follow() -> None:
    w, stream = _world(), ObservationStream(shape="real", interval_every_ms=10_000)
    w.start_wave(rate_per_min=200, duration_s=600)
    sent: dict[tuple[str, str], list[tuple[int, IntervalStats]]] = defaultdict(list)
    for i in range(600):
        for msg in stream.messages(w.step(0 if i == 0 else 0.5), w.now_ms):
            if not _is_instant(msg):
                key = (msg.queue_id, msg.body["group"]["mediaType"])
                sent[key].append((msg.time_ms, w.media_state(*key).interval))
    assert len(sent) == 6
    for times in sent.values():
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(times)]
        assert gaps and min(gaps) >= 10_000, gaps
        assert len(times) >= 25  # 300 s of steady change: about one every 10 s
    # pending figures go out on flush (the engine flushes when the world stops): the last ones are current
    last = {(m.queue_id, m.body["group"]["mediaType"]): m for m in stream.flush(w.now_ms)}
    for key in sent:
        if key in last:
            offered = next(x for x in last[key].body["data"][0]["metrics"] if x["metric"] == "nOffered")
            assert offered["stats"]["count"] == w.media_state(*key).interval.offered


def test_routing_statuses_whole_lists_every_status_with_zero_counts() -> None:
    w, stream = _world(), ObservationStream(shape="real", routing_status_mode="whole")
    seen_zero = False
    for i in range(300):
        for msg in stream.messages(w.step(0 if i == 0 else 1.0), w.now_ms):
            if msg.group != "agents":
                continue
            shapes.check(shapes.REAL_AGENTS_BODY, msg.body)
            metrics = msg.body["data"][0]["metrics"]
            assert [m["qualifier"] for m in metrics] == list(STATUSES)
            assert {m["metric"] for m in metrics} == {"oUserRoutingStatuses"}
            assert {m["qualifier"]: m["stats"]["count"] for m in metrics} == dict(w.agent_counts(msg.queue_id))
            seen_zero |= any(m["stats"]["count"] == 0 for m in metrics)
    assert seen_zero


def test_routing_statuses_changed_lists_only_the_changed_statuses() -> None:
    w, stream = _world(), ObservationStream(shape="real", routing_status_mode="changed")
    previous: dict[str, dict[str, int]] = {}
    applied: dict[str, dict[str, int]] = {}
    sizes = []
    for i in range(300):
        for msg in stream.messages(w.step(0 if i == 0 else 1.0), w.now_ms):
            if msg.group != "agents":
                continue
            listed = {m["qualifier"]: m["stats"]["count"] for m in msg.body["data"][0]["metrics"]}
            now = dict(w.agent_counts(msg.queue_id))
            old = previous.get(msg.queue_id)
            assert listed == ({s: n for s, n in now.items() if old[s] != n} if old else now)
            applied.setdefault(msg.queue_id, {}).update(listed)
            assert applied[msg.queue_id] == now  # applying the changes keeps a consumer exact
            previous[msg.queue_id] = now
            sizes.append(len(listed))
    assert 5 in sizes and min(sizes) < 5


def test_agent_counts_can_ride_on_queue_and_off_queue_users() -> None:
    w, stream = _world(), ObservationStream(shape="real", agent_metric="oOnQueueUsers")
    msgs = [m for m in stream.messages(w.step(0), w.now_ms) if m.group == "agents"]
    assert msgs
    for msg in msgs:
        metrics = msg.body["data"][0]["metrics"]
        by_status = {m["qualifier"]: (m["metric"], m["stats"]["count"]) for m in metrics}
        assert by_status["OFF_QUEUE"][0] == "oOffQueueUsers"
        assert {by_status[s][0] for s in STATUSES if s != "OFF_QUEUE"} == {"oOnQueueUsers"}
        assert {s: n for s, (_, n) in by_status.items()} == dict(w.agent_counts(msg.queue_id))


def test_a_consumer_of_real_messages_equals_the_truth_across_an_interval_boundary() -> None:
    boundary = interval_start(START_MS) + INTERVAL_MS
    w = _world(start_ms=boundary - 300_000)
    stream = ObservationStream(shape="real", routing_status_mode="changed", interval_every_ms=5000)
    consumer = Consumer(real=True)
    named: list[str] = []
    for i in range(400):
        for msg in stream.messages(w.step(0 if i == 0 else 1.5), w.now_ms):
            consumer.observation_body(msg.body)
            if not _is_instant(msg):
                named.append(msg.body["data"][0]["interval"].split("/")[0])
    for msg in stream.flush(w.now_ms):  # the world stops
        consumer.observation_body(msg.body)
    old, new = wire.iso(boundary - INTERVAL_MS), wire.iso(boundary)
    assert named.count(old) > 10 and named.count(new) > 10
    assert named.index(new) > len(named) - 1 - named[::-1].index(old), "the old interval's last figures come first"
    for q in w.queues:  # longest waiting comes from the observations query, not from the live messages
        for m in q.media:
            details = w.waiting_details(q.queue_id, m)
            consumer.longest(q.queue_id, m, wire.iso(details[0].offered_ms) if details else None)
    expected = truth(w)["queues"]
    assert {v["interval"]["start"] for v in expected.values()} == {new}
    assert without(consumer.views(w.now_ms), *ROUTING_API, "updatedAt") == without(expected, *ROUTING_API, "updatedAt")


def test_the_interval_rolls_over_by_the_clock_even_before_anything_is_counted() -> None:
    boundary = interval_start(START_MS) + INTERVAL_MS
    w = _world(start_ms=boundary - 20_000)
    stream = ObservationStream(shape="real", interval_every_ms=0)
    consumer = Consumer(real=True)
    for i in range(25):
        for msg in stream.messages(w.step(0 if i == 0 else 1.0), w.now_ms):
            consumer.observation_body(msg.body)
    views = consumer.views(w.now_ms)
    for qid, view in truth(w)["queues"].items():
        assert views[qid]["interval"]["start"] == view["interval"]["start"] == wire.iso(boundary)
        assert views[qid]["interval"]["offered"] == view["interval"]["offered"]


def test_coalescing_merges_partial_bodies_and_replaces_whole_ones() -> None:
    def instant(t: int, **counts: int) -> ObservationMessage:
        metrics = [{"metric": k, "stats": {"count": v}} for k, v in counts.items()]
        body = {"group": {"queueId": "q", "mediaType": "voice"}, "data": [{"interval": f"{t}/{t}", "metrics": metrics}]}
        return ObservationMessage("q", "instant:voice", t, body, partial=True)

    merged = coalesce(instant(1, oWaiting=3, oAlerting=1), instant(2, oAlerting=0))
    assert merged.time_ms == 2 and merged.body["data"][0]["interval"] == "2/2"
    assert {m["metric"]: m["stats"]["count"] for m in merged.body["data"][0]["metrics"]} == {
        "oWaiting": 3,
        "oAlerting": 0,
    }
    whole_a, whole_b = (ObservationMessage("q", "voice", t, {"t": t}) for t in (1, 2))
    assert coalesce(whole_a, whole_b) is whole_b


def test_legacy_shape_sends_whole_state_bodies() -> None:
    w, stream = _world(), ObservationStream(shape="legacy", routing_status_mode="changed", agent_metric="oOnQueueUsers")
    for i in range(200):
        for msg in stream.messages(w.step(0 if i == 0 else 1.0), w.now_ms):
            assert not msg.partial
            if msg.group == "agents":
                shapes.check(shapes.AGENTS_OBSERVATION_BODY, msg.body)
                listed = {m["qualifier"]: m["stats"]["count"] for m in msg.body["data"][0]["metrics"]}
                assert listed == {s: n for s, n in w.agent_counts(msg.queue_id) if n}, "whole set, zeros omitted"
                continue
            shapes.check(shapes.MEDIA_OBSERVATION_BODY, msg.body)
            st = w.media_state(msg.queue_id, msg.group)
            instant, interval = msg.body["data"]
            assert [m["metric"] for m in instant["metrics"]] == [
                "oWaiting",
                "oInteracting",
                "oAlerting",
                "oLongestWaiting",
            ]
            assert [m["stats"]["count"] for m in instant["metrics"]] == [
                st.waiting,
                st.interacting,
                st.alerting,
                st.waiting,
            ]
            assert interval["interval"] == wire.interval_text(st.interval)
            assert [m["metric"] for m in interval["metrics"]] == ["nOffered", "tAnswered", "tAbandon", "oServiceLevel"]
