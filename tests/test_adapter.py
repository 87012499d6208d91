from datetime import UTC, datetime

import msgspec
import pytest

from proxy.errors import InvalidInput
from proxy.ingest.adapter import ActivityBody, from_activity, from_observations, stamp_untimed
from proxy.ingest.notification import parse_notification
from proxy.ingest.wire import ObservationsBody
from proxy.state.observation import FLOOR, UNCHANGED


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


# ------------------------------------------------------------------ the .activity topic

_Q = "6f1c8a1e-0000-4000-8000-000000000001"


def _activity(data: list[dict[str, object]], media: str = "voice") -> ActivityBody:
    return msgspec.convert({"results": [{"mediaType": media, "data": data}]}, ActivityBody)


def test_activity_body_is_untimed_absolute_counts_per_media() -> None:
    [obs] = from_activity(_activity([
        {"metric": "oWaiting", "count": 3}, {"metric": "oInteracting", "count": 5},
        {"metric": "oLongestWaiting", "count": 3, "calculatedMetricValue": 1735551414839},
        {"metric": "oFlow", "count": 9},
    ]), _Q)
    assert (obs.queue_id, obs.media_type, obs.observed_at) == (_Q, "voice", None)
    assert (obs.waiting, obs.interacting, obs.alerting) == (3, 5, None)  # absent oAlerting: unchanged
    assert obs.longest_waiting_since == datetime(2024, 12, 30, 9, 36, 54, 839000, tzinfo=UTC)


def test_activity_longest_waiting_without_a_value_means_nobody_waits_only_at_count_zero() -> None:
    [none] = from_activity(_activity([{"metric": "oLongestWaiting", "count": 0}]), _Q)
    assert none.longest_waiting_since is None
    [unknown] = from_activity(_activity([{"metric": "oLongestWaiting", "count": 2}]), _Q)
    assert unknown.longest_waiting_since is UNCHANGED


@pytest.mark.parametrize(("data", "field"), [
    ([{"metric": "oWaiting", "count": -1}], "$.results[0].data[0].count"),
    ([{"metric": "oWaiting", "count": "3"}], "$.results[0].data[0].count"),
    ([{"metric": "oLongestWaiting", "count": 1, "calculatedMetricValue": 1e300}],
     "$.results[0].data[0].calculatedMetricValue"),
])
def test_a_bad_activity_value_is_invalid_input_naming_the_field(data: list[dict[str, object]], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        from_activity(_activity(data), _Q)
    assert info.value.field == field


def test_untimed_observations_are_stamped_after_the_newest_platform_time_never_the_clock() -> None:
    [obs] = from_activity(_activity([{"metric": "oWaiting", "count": 1}]), _Q)
    newest = datetime(2026, 11, 27, 21, 10, tzinfo=UTC)
    [stamped] = stamp_untimed([obs], lambda q: newest if q == _Q else None)
    assert stamped.observed_at == datetime(2026, 11, 27, 21, 10, 0, 1000, tzinfo=UTC)
    [first] = stamp_untimed([obs], lambda q: None)
    assert first.observed_at == FLOOR
    interval_only = msgspec.structs.replace(obs, waiting=None)  # nothing instant: left as it is
    assert stamp_untimed([interval_only], lambda q: newest)[0].observed_at is None


def test_an_activity_frame_parses_to_observations_of_the_topic_queue() -> None:
    frame = {"topicName": f"v2.analytics.queues.{_Q}.activity", "version": "2",
             "eventBody": {"results": [{"mediaType": "chat", "data": [{"metric": "oAlerting", "count": 2}]}]}}
    note = parse_notification(msgspec.json.encode(frame))
    assert note.kind == "observation"
    assert [(o.queue_id, o.media_type, o.alerting) for o in note.observations] == [(_Q, "chat", 2)]
    bad = {**frame, "eventBody": {"results": [{"data": []}]}}
    with pytest.raises(InvalidInput) as info:
        parse_notification(msgspec.json.encode(bad))
    assert info.value.field == "$.eventBody.results[0].mediaType"
