"""REST backfill translation (``proxy.ingest.adapter.from_backfill``) and query bodies; pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from proxy.ingest.adapter import AggregateQueryResponse, ObservationQueryResponse, from_backfill
from proxy.state.observation import UNCHANGED
from proxy.upstream.backfill import aggregates_body, observations_body

T = datetime(2026, 11, 27, 21, 10, tzinfo=UTC)

OBS = {"results": [
    {"group": {"queueId": "q1"}, "data": [
        {"metric": "oUserRoutingStatuses", "qualifier": "IDLE", "stats": {"count": 2}},
        {"metric": "oUserRoutingStatuses", "qualifier": "INTERACTING", "stats": {"count": 3}}]},
    {"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
        {"metric": "oWaiting", "stats": {"count": 2}, "truncated": False, "observations": [
            {"observationDate": "2026-11-27T21:05:00.000Z"}, {"observationDate": "2026-11-27T21:01:30.500Z"}]},
        {"metric": "oInteracting", "stats": {"count": 3}}, {"metric": "oAlerting", "stats": {"count": 0}}]},
    {"group": {"queueId": "q1", "mediaType": "chat"}, "data": [
        {"metric": "oWaiting", "stats": {"count": 0}, "observations": []},
        {"metric": "oInteracting", "stats": {"count": 1}}]},
]}
AGG = {"results": [
    {"group": {"queueId": "q1", "mediaType": "voice"}, "data": [
        {"interval": "2026-11-27T20:30:00.000Z/2026-11-27T21:00:00.000Z",
         "metrics": [{"metric": "nOffered", "stats": {"count": 99}}]},
        {"interval": "2026-11-27T21:00:00.000Z/2026-11-27T21:30:00.000Z", "metrics": [
            {"metric": "nOffered", "stats": {"count": 10}},
            {"metric": "tAnswered", "stats": {"count": 8, "sum": 80000}},
            {"metric": "tAbandon", "stats": {"count": 1, "sum": 5000}},
            {"metric": "oServiceLevel", "stats": {"ratio": 0.75, "numerator": 6, "denominator": 8, "target": 0.8}}]}]},
]}


def test_backfill_answers_become_observations_per_media_and_queue() -> None:
    obs = from_backfill(msgspec.convert(OBS, ObservationQueryResponse), msgspec.convert(AGG, AggregateQueryResponse),
                        observed_at=lambda qid: T, names={"q1": "Billing"})
    by_media = {o.media_type: o for o in obs}
    voice, chat, queue = by_media["voice"], by_media["chat"], by_media[None]
    assert (voice.waiting, voice.interacting, voice.alerting) == (2, 3, 0)
    assert voice.longest_waiting_since == datetime(2026, 11, 27, 21, 1, 30, 500000, tzinfo=UTC)  # earliest wait
    assert voice.interval is not None and voice.interval.start == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert (voice.interval.offered, voice.interval.answered, voice.interval.answered_sum_ms) == (10, 8, 80000)
    assert (voice.interval.sl_numerator, voice.interval.sl_denominator, voice.interval.sl_target) == (6, 8, 0.8)
    assert chat.waiting == 0 and chat.longest_waiting_since is None and chat.interval is None
    assert queue.agents == {"IDLE": 2, "INTERACTING": 3}  # omitted statuses are 0 in the reducer
    assert all(o.name == "Billing" and o.observed_at == T for o in obs)


def test_waiting_without_details_leaves_longest_waiting_unchanged() -> None:
    body = {"results": [{"group": {"queueId": "q", "mediaType": "voice"},
                         "data": [{"metric": "oWaiting", "stats": {"count": 4}}]}]}
    [obs] = from_backfill(msgspec.convert(body, ObservationQueryResponse), None, observed_at=lambda qid: T)
    assert obs.waiting == 4 and obs.longest_waiting_since is UNCHANGED and obs.interval is None


def test_query_bodies_name_every_queue_and_the_current_interval() -> None:
    body = observations_body(["a", "b"])
    assert [p["value"] for p in body["filter"]["predicates"]] == ["a", "b"]  # type: ignore[index]
    assert body["detailMetrics"] == ["oWaiting"]
    agg = aggregates_body(["a"], around=datetime(2026, 11, 27, 21, 47, 12, tzinfo=UTC))
    assert agg["interval"] == "2026-11-27T21:00:00.000Z/2026-11-27T22:30:00.000Z"
    assert agg["granularity"] == "PT30M" and agg["groupBy"] == ["queueId", "mediaType"]
