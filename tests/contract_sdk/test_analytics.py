"""The analytics queries through the SDK, every metric its enums allow, read into its response models."""

from __future__ import annotations

import PureCloudPlatformClientV2 as sdk

from simulator.enums import AGGREGATE_METRICS, OBSERVATION_DETAIL_METRICS, OBSERVATION_METRICS

from .conftest import Sim, assert_lossless, last_json


def _predicate(cls: type, dimension: str, value: str) -> object:
    p = cls()
    p.type, p.dimension, p.operator, p.value = "dimension", dimension, "matches", value
    return p


def _filter(filter_cls: type, pred_cls: type, qids: list[str]) -> object:
    f = filter_cls()
    f.type = "or"
    f.predicates = [_predicate(pred_cls, "queueId", q) for q in qids]
    return f


def test_observations_query_with_every_metric_of_the_enum(sim: Sim) -> None:
    sim.advance(240)
    client = sim.api_client()
    qids = sim.queue_ids()
    query = sdk.QueueObservationQuery()
    query.filter = _filter(sdk.QueueObservationQueryFilter, sdk.QueueObservationQueryPredicate, qids)
    query.metrics = list(OBSERVATION_METRICS)
    query.detail_metrics = list(OBSERVATION_DETAIL_METRICS)
    response = sdk.AnalyticsApi(client).post_analytics_queues_observations_query(query)
    assert_lossless(client, last_json(client), response)
    truth = sim.truth()["queues"]
    media_groups = [r for r in response.results if "mediaType" in r.group]
    assert len(media_groups) == 2 * len(qids)
    for result in media_groups:
        m = truth[result.group["queueId"]]["media"][result.group["mediaType"]]
        by_metric = {d.metric: d for d in result.data}
        assert set(by_metric) == {"oWaiting", "oInteracting", "oAlerting", "oLongestWaiting", "oLongestInteracting"}
        assert by_metric["oWaiting"].stats.count == m["waiting"]
        assert len(by_metric["oWaiting"].observations) == m["waiting"]
        assert by_metric["oLongestWaiting"].stats.count == m["waiting"]


def test_each_observation_metric_alone_is_accepted(sim: Sim) -> None:
    client = sim.api_client()
    api = sdk.AnalyticsApi(client)
    qids = sim.queue_ids()[:1]
    for metric in OBSERVATION_METRICS:
        query = sdk.QueueObservationQuery()
        query.filter = _filter(sdk.QueueObservationQueryFilter, sdk.QueueObservationQueryPredicate, qids)
        query.metrics = [metric]
        response = api.post_analytics_queues_observations_query(query)
        assert_lossless(client, last_json(client), response)


def test_aggregates_query_with_every_metric_of_the_enum(sim: Sim) -> None:
    sim.advance(600)
    client = sim.api_client()
    iv = next(iter(sim.truth()["queues"].values()))["interval"]
    query = sdk.ConversationAggregationQuery()
    query.interval = f"{iv['start']}/{iv['end']}"
    query.group_by = ["queueId", "mediaType"]
    query.metrics = list(AGGREGATE_METRICS)
    response = sdk.AnalyticsApi(client).post_analytics_conversations_aggregates_query(query)
    assert_lossless(client, last_json(client), response)
    assert response.results
    for result in response.results:
        names = {m.metric for m in result.data[0].metrics}
        assert {"nOffered", "tAnswered", "tAbandon", "oServiceLevel", "tHandle"} <= names
    for metric in ("nTransferred", "tHandle", "tWait", "oServiceTarget"):
        query.metrics = [metric]
        response = sdk.AnalyticsApi(client).post_analytics_conversations_aggregates_query(query)
        assert_lossless(client, last_json(client), response)


def test_aggregates_group_by_any_dimension_of_the_enum_is_a_valid_answer(sim: Sim) -> None:
    """The world models queueId and mediaType; grouping by another dimension the platform knows gets a
    valid answer with no data (never a 400 the platform would not give); an unknown dimension a 400."""
    sim.advance(60)
    client = sim.api_client()
    iv = next(iter(sim.truth()["queues"].values()))["interval"]
    api = sdk.AnalyticsApi(client)
    for dimension in ("direction", "userId", "divisionId", "wrapUpCode"):
        query = sdk.ConversationAggregationQuery()
        query.interval = f"{iv['start']}/{iv['end']}"
        query.group_by = ["queueId", dimension]
        query.metrics = ["nOffered"]
        response = api.post_analytics_conversations_aggregates_query(query)
        assert_lossless(client, last_json(client), response)
        assert not response.results
    query.group_by = ["noSuchDimension"]
    try:
        api.post_analytics_conversations_aggregates_query(query)
    except sdk.rest.ApiException as exc:
        assert exc.status == 400 and "groupBy[0]" in (exc.body or "")
    else:
        raise AssertionError("an unknown dimension must be refused")
