"""The two activity queries through the SDK: every enum metric, with and without details, read
losslessly into ``ConversationActivityResponse`` / ``RoutingActivityResponse`` and checked against
the world's truth. The simulator's enums are checked against the installed SDK's."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime

import PureCloudPlatformClientV2 as sdk
import pytest
from PureCloudPlatformClientV2.rest import ApiException

from simulator import enums, wire

from .conftest import Sim, assert_lossless, last_json


def _allowed(model: type, attr: str) -> tuple[str, ...]:
    """The ``allowed_values`` of a setter of the installed SDK's model."""
    source = inspect.getsource(getattr(model, attr).fset)
    found = re.search(r"allowed_values = (\[.*?\])", source)
    assert found, f"{model.__name__}.{attr} has no enum"
    return tuple(eval(found.group(1)))  # a list literal of strings from the SDK's own source


def test_the_simulator_enums_are_the_installed_sdks() -> None:
    assert _allowed(sdk.ConversationActivityQueryMetric, "metric") == enums.CONVERSATION_ACTIVITY_METRICS
    assert _allowed(sdk.RoutingActivityQueryMetric, "metric") == enums.ROUTING_ACTIVITY_METRICS
    assert _allowed(sdk.ConversationActivityQueryPredicate, "dimension") == enums.CONVERSATION_ACTIVITY_DIMENSIONS
    assert _allowed(sdk.RoutingActivityQueryPredicate, "dimension") == enums.ROUTING_ACTIVITY_DIMENSIONS
    assert _allowed(sdk.ConversationActivityQuery, "order") == enums.ACTIVITY_ORDERS
    assert set(_allowed(sdk.QueueObservationQueryPredicate, "dimension")) == {"queueId", "mediaType"}


def _metric(cls: type, name: str, details: bool) -> object:
    m = cls()
    m.metric, m.details = name, details
    return m


def _queue_filter(filter_cls: type, pred_cls: type, qids: list[str]) -> object:
    f = filter_cls()
    f.type = "or"
    preds = []
    for q in qids:
        p = pred_cls()
        p.type, p.dimension, p.operator, p.value = "dimension", "queueId", "matches", q
        preds.append(p)
    f.predicates = preds
    return f


@pytest.mark.parametrize("details", [False, True])
def test_conversations_activity_with_every_metric(sim: Sim, details: bool) -> None:
    sim.advance(240)
    client = sim.api_client()
    qids = sim.queue_ids()
    query = sdk.ConversationActivityQuery()
    metric_cls = sdk.ConversationActivityQueryMetric
    query.metrics = [_metric(metric_cls, m, details) for m in enums.CONVERSATION_ACTIVITY_METRICS]
    query.group_by = ["queueId", "mediaType"]
    query.filter = _queue_filter(sdk.ConversationActivityQueryFilter, sdk.ConversationActivityQueryPredicate, qids)
    query.order = "asc"
    response = sdk.AnalyticsApi(client).post_analytics_conversations_activity_query(query)
    assert_lossless(client, last_json(client), response)
    truth = sim.truth()["queues"]
    assert len(response.results) == 2 * len(qids)
    for result in response.results:
        m = truth[result.group["queueId"]]["media"][result.group["mediaType"]]
        by = {d.metric: d for d in result.data}
        assert (by["oWaiting"].count, by["oInteracting"].count, by["oAlerting"].count) == (
            m["waiting"], m["interacting"], m["alerting"]
        )
        longest = by["oLongestWaiting"].calculated_metric_value
        assert (None if longest is None else wire.iso(longest)) == m["longestWaitingSince"]
        if details:
            waiting = [e for e in result.entities or [] if e.metric == "oWaiting"]
            assert len(waiting) == m["waiting"] == len(by["oWaiting"].entity_ids)
            dates = [e.activity_date for e in waiting]
            assert dates == sorted(dates)
            if longest is not None:
                assert dates[0] == datetime.fromtimestamp(longest / 1000, UTC)
        else:
            assert result.entities is None


@pytest.mark.parametrize("details", [False, True])
def test_routing_activity_with_every_metric(sim: Sim, details: bool) -> None:
    sim.advance(120)
    client = sim.api_client()
    qids = sim.queue_ids()
    query = sdk.RoutingActivityQuery()
    query.metrics = [_metric(sdk.RoutingActivityQueryMetric, m, details) for m in enums.ROUTING_ACTIVITY_METRICS]
    query.group_by = ["queueId"]
    query.filter = _queue_filter(sdk.RoutingActivityQueryFilter, sdk.RoutingActivityQueryPredicate, qids)
    response = sdk.AnalyticsApi(client).post_analytics_routing_activity_query(query)
    assert_lossless(client, last_json(client), response)
    truth = sim.truth()["queues"]
    assert [r.group["queueId"] for r in response.results] == qids
    for result in response.results:
        agents = truth[result.group["queueId"]]["agents"]
        statuses = {d.qualifier: d.count for d in result.data if d.metric == "oUserRoutingStatuses"}
        assert statuses == {s: n for s, n in agents.items() if n}
        member = next(d.count for d in result.data if d.metric == "oMemberUsers")
        assert member == sum(agents.values())
        if details:
            assert len(result.entities) == member
            assert {e.routing_status for e in result.entities} == set(statuses)


def test_routing_activity_without_a_queue_group_is_the_platforms_400(sim: Sim) -> None:
    client = sim.api_client()
    query = sdk.RoutingActivityQuery()
    query.metrics = [_metric(sdk.RoutingActivityQueryMetric, "oOnQueueUsers", False)]
    with pytest.raises(ApiException) as info:
        sdk.AnalyticsApi(client).post_analytics_routing_activity_query(query)
    assert info.value.status == 400 and b"groupBy" in info.value.body.encode()


def test_grouping_by_a_dimension_the_world_does_not_model_is_a_valid_empty_answer(sim: Sim) -> None:
    """Never a 400 the platform would not give: the enum's other dimensions answer "no data"."""
    client = sim.api_client()
    api = sdk.AnalyticsApi(client)
    conv = sdk.ConversationActivityQuery()
    conv.metrics = [_metric(sdk.ConversationActivityQueryMetric, "oWaiting", False)]
    other = next(d for d in enums.CONVERSATION_ACTIVITY_DIMENSIONS if d not in ("queueId", "mediaType"))
    conv.group_by = ["queueId", other]
    response = api.post_analytics_conversations_activity_query(conv)
    assert_lossless(client, last_json(client), response)
    assert not response.results
    routing = sdk.RoutingActivityQuery()
    routing.metrics = [_metric(sdk.RoutingActivityQueryMetric, "oOnQueueUsers", False)]
    routing.group_by = ["queueId", next(d for d in enums.ROUTING_ACTIVITY_DIMENSIONS if d != "queueId")]
    response = api.post_analytics_routing_activity_query(routing)
    assert_lossless(client, last_json(client), response)
    assert not response.results
