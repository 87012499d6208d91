from datetime import UTC, datetime

import msgspec
import pytest

from proxy.errors import InvalidInput
from proxy.ingest.adapter import from_observations
from proxy.ingest.wire import ObservationsBody
from proxy.state.observation import UNCHANGED


def body(group, data) -> ObservationsBody:
    return msgspec.convert({"group": group, "data": data}, ObservationsBody)


def test_instant_and_interval_entries_become_one_observation():
    b = body({"queueId": "q1", "mediaType": "voice"}, [
        {"interval": "2026-11-27T21:00:05.000Z/2026-11-27T21:00:05.000Z", "metrics": [
            {"metric": "oWaiting", "stats": {"count": 3}},
            {"metric": "oInteracting", "stats": {"count": 5}},
            {"metric": "oLongestWaiting", "stats": {"count": 3, "calculatedMetricValue": 1795813200000}},
        ]},
        {"interval": "2026-11-27T21:00:00.000Z/2026-11-27T21:30:00.000Z", "metrics": [
            {"metric": "nOffered", "stats": {"count": 9}},
            {"metric": "tAnswered", "stats": {"count": 7, "sum": 70000}},
            {"metric": "tAbandon", "stats": {"count": 2, "sum": 9000}},
            {"metric": "oServiceLevel", "stats": {"ratio": 0.5, "numerator": 3, "denominator": 6, "target": 0.8}},
            {"metric": "tAlert", "stats": {"count": 1, "sum": 5}},
        ]},
    ])
    o = from_observations(b)
    assert (o.queue_id, o.media_type, o.waiting, o.interacting, o.alerting) == ("q1", "voice", 3, 5, None)
    assert o.observed_at == datetime(2026, 11, 27, 21, 0, 5, tzinfo=UTC)
    assert o.longest_waiting_since == datetime.fromtimestamp(1795813200, UTC)
    assert o.interval is not None
    iv = o.interval
    assert (iv.offered, iv.answered, iv.answered_sum_ms, iv.abandoned) == (9, 7, 70000, 2)
    assert (o.interval.sl_numerator, o.interval.sl_denominator, o.interval.sl_target) == (3, 6, 0.8)


def test_longest_waiting_without_value_means_nobody_waits_and_absent_means_unchanged():
    instant = "2026-11-27T21:00:05.000Z/2026-11-27T21:00:05.000Z"
    with_metric = body({"queueId": "q1", "mediaType": "chat"},
                       [{"interval": instant, "metrics": [{"metric": "oLongestWaiting", "stats": {"count": 0}}]}])
    assert from_observations(with_metric).longest_waiting_since is None
    without = body({"queueId": "q1", "mediaType": "chat"},
                   [{"interval": instant, "metrics": [{"metric": "oWaiting", "stats": {"count": 0}}]}])
    assert from_observations(without).longest_waiting_since is UNCHANGED


def test_routing_statuses_come_under_a_queue_level_group():
    b = body({"queueId": "q1"}, [{"interval": "2026-11-27T21:00:05.000Z/2026-11-27T21:00:05.000Z", "metrics": [
        {"metric": "oUserRoutingStatuses", "qualifier": "IDLE", "stats": {"count": 4}},
        {"metric": "oUserRoutingStatuses", "qualifier": "INTERACTING", "stats": {"count": 2}},
    ]}])
    o = from_observations(b)
    assert o.media_type is None and o.agents == {"IDLE": 4, "INTERACTING": 2}


def test_a_body_without_an_instant_entry_has_no_time_of_its_own():
    """Interval figures alone are keyed by their interval; no envelope or receive time stands in."""
    b = body({"queueId": "q1", "mediaType": "voice"}, [
        {"interval": "2026-11-27T21:00:00.000Z/2026-11-27T21:30:00.000Z",
         "metrics": [{"metric": "nOffered", "stats": {"count": 2}}]}])
    o = from_observations(b)
    assert o.observed_at is None and o.interval is not None and o.interval.offered == 2
    assert o.interval.answered is None  # absent: nothing to count (the reducer takes it as 0)


def test_agent_counts_from_on_and_off_queue_users_and_unknown_qualifiers_ignored():
    b = body({"queueId": "q1"}, [{"interval": "2026-11-27T21:00:05.000Z/2026-11-27T21:00:05.000Z", "metrics": [
        {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
        {"metric": "oOffQueueUsers", "qualifier": "OFF_QUEUE", "stats": {"count": 1}},
        {"metric": "oOnQueueUsers", "qualifier": "a-presence-id", "stats": {"count": 7}},
    ]}])
    o = from_observations(b)
    assert o.agents == {"IDLE": 2, "OFF_QUEUE": 1} and not o.agents_whole  # missing statuses: unchanged


@pytest.mark.parametrize(("group", "data", "field"), [
    ({"mediaType": "voice"}, [], "$.group.queueId"),
    ({"queueId": "q"}, [{"interval": "nonsense", "metrics": []}], "$.data[0].interval"),
    ({"queueId": "q", "mediaType": "v"}, [{"interval": "2026-11-27T21:00:05Z/2026-11-27T21:00:05Z",
                                           "metrics": [{"metric": "oWaiting", "stats": {"count": -1}}]}],
     "$.data[0].metrics[0].stats.count"),
])
def test_bad_bodies_name_the_field(group, data, field):
    with pytest.raises(InvalidInput) as info:
        from_observations(body(group, data))
    assert info.value.field == field
