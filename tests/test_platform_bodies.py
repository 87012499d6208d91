"""The proxy never invents a request shape: the JSON bodies its platform client sends equal the
vendor SDK's serialization of the same query (``ApiClient.sanitize_for_serialization``, what the SDK
puts on the wire)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import PureCloudPlatformClientV2 as sdk

from proxy.upstream.backfill import aggregates_body, observations_body

IDS = ["6f1c8a1e-0000-4000-8000-000000000001", "6f1c8a1e-0000-4000-8000-000000000002"]


def _wire(model: Any) -> Any:
    return sdk.api_client.ApiClient().sanitize_for_serialization(model)


def _filter(filter_cls: type, pred_cls: type, ids: list[str]) -> Any:
    f = filter_cls()
    f.type = "or"
    preds = []
    for qid in ids:
        p = pred_cls()
        p.type, p.dimension, p.operator, p.value = "dimension", "queueId", "matches", qid
        preds.append(p)
    f.predicates = preds
    return f


def test_observations_query_body_is_the_sdks() -> None:
    query = sdk.QueueObservationQuery()
    query.filter = _filter(sdk.QueueObservationQueryFilter, sdk.QueueObservationQueryPredicate, IDS)
    query.metrics = ["oWaiting", "oInteracting", "oAlerting", "oUserRoutingStatuses"]
    query.detail_metrics = ["oWaiting"]
    assert observations_body(IDS) == _wire(query)


def test_aggregates_query_body_is_the_sdks() -> None:
    body = aggregates_body(IDS, now=datetime(2026, 11, 27, 21, 47, 12, tzinfo=UTC))
    query = sdk.ConversationAggregationQuery()
    query.interval = "2026-11-27T21:30:00.000Z/2026-11-27T22:30:00.000Z"
    query.granularity = "PT30M"
    query.group_by = ["queueId", "mediaType"]
    query.filter = _filter(sdk.ConversationAggregateQueryFilter, sdk.ConversationAggregateQueryPredicate, IDS)
    query.metrics = ["nOffered", "tAnswered", "tAbandon", "tHandle", "oServiceLevel"]
    assert body == _wire(query)
