"""REST backfill translation (``proxy.ingest.adapter.from_backfill``) and query bodies; pure, no I/O."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from proxy.ingest.adapter import AggregateQueryResponse, ObservationQueryResponse, from_backfill
from proxy.state.observation import UNCHANGED
from proxy.state.reducer import Reducer
from proxy.upstream.backfill import aggregates_body, backfill, observations_body
from proxy.upstream.platform import Platform, QueueDirectory

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
    agg = aggregates_body(["a"], now=datetime(2026, 11, 27, 21, 47, 12, tzinfo=UTC))
    # the one containing now, and the next (the platform's clock may be ahead); never an earlier one
    assert agg["interval"] == "2026-11-27T21:30:00.000Z/2026-11-27T22:30:00.000Z"
    assert agg["granularity"] == "PT30M" and agg["groupBy"] == ["queueId", "mediaType"]
    assert "tHandle" in agg["metrics"]  # average handle time


class QuietSink:
    """An ingest sink whose newest event is an hour old (a quiet spell); records what it is given."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.applied: list[Any] = []

    def apply(self, observations: Any, *, live: bool = True) -> Counter[str]:
        self.applied.extend(observations)
        return Counter(applied=len(self.applied))

    def newest_time(self, queue_id: str) -> datetime | None:
        return self.now - timedelta(hours=1)

    def platform_now(self) -> datetime:
        return self.now

    def known_queues(self) -> list[str]:
        return ["q1"]

    def remove_queue(self, queue_id: str) -> None: ...

    def follow_queue(self, queue_id: str) -> None: ...


async def test_after_a_quiet_spell_backfill_asks_for_the_interval_containing_now() -> None:
    asked: list[dict[str, Any]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.endswith("/aggregates/query"):
            asked.append(body)
            return httpx.Response(200, json={"results": []})
        return httpx.Response(200, json={"results": []})

    now = datetime(2026, 11, 30, 10, 7, tzinfo=UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform), base_url="http://platform") as http:
        await backfill(Platform(http), QuietSink(now), ["q1"])
    assert [body["interval"] for body in asked] == ["2026-11-30T10:00:00.000Z/2026-11-30T11:00:00.000Z"]


def test_a_queue_never_seen_live_is_stamped_at_the_floor_so_live_messages_win() -> None:
    from proxy.state.observation import FLOOR

    obs = from_backfill(msgspec.convert(OBS, ObservationQueryResponse), None, observed_at=lambda qid: FLOOR)
    assert all(o.observed_at == FLOOR for o in obs)
    queue = next(o for o in obs if o.media_type is None)
    assert queue.agents_whole  # the query lists the whole set, zero counts omitted


def test_backfilled_divisions_reach_the_view_and_an_unknown_one_is_null() -> None:
    obs = from_backfill(msgspec.convert(OBS, ObservationQueryResponse), msgspec.convert(AGG, AggregateQueryResponse),
                        observed_at=lambda qid: T, names={"q1": "Billing"}, divisions={"q1": "Home"})
    assert all(o.division == "Home" for o in obs)
    reducer = Reducer()
    for o in obs:
        reducer.apply(o)
    assert reducer.view("q1").body["division"] == "Home"
    unknown = from_backfill(msgspec.convert(OBS, ObservationQueryResponse), None, observed_at=lambda qid: T)
    fresh = Reducer()
    for o in unknown:
        fresh.apply(o)
    assert fresh.view("q1").body["division"] is None


async def test_backfill_passes_the_directorys_names_and_divisions() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=OBS if request.url.path.endswith("/observations/query") else AGG)

    sink = QuietSink(T)
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform), base_url="http://platform") as http:
        await backfill(Platform(http), sink, ["q1"], directory=QueueDirectory({"q1": "Billing"}, {"q1": "Partners"}))
    assert sink.applied and all((o.name, o.division) == ("Billing", "Partners") for o in sink.applied)
