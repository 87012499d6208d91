"""The real message shape over every transport: the Notifications socket, EventBridge and the Event Bus."""

from __future__ import annotations

import json
from typing import Any

import trio
from trio_websocket import open_websocket_url

from simulator.model import INTERVAL_MS, interval_start
from simulator.wire import iso, parse_iso_ms

from . import shapes
from .conftest import START_MS, Receiver, Sim, StartSim
from .consumer import ROUTING_API, Consumer, without
from .wsutil import new_channel, next_json

TEMPLATE = "v2.analytics.queues.{id}.observations"


def _filter(qids: list[str]) -> dict[str, Any]:
    return {"type": "or", "predicates": [{"dimension": "queueId", "value": q} for q in qids]}


def _instant(body: dict[str, Any]) -> bool:
    start, end = body["data"][0]["interval"].split("/")
    return bool(start == end)


async def _backfill_intervals(sim: Sim, consumer: Consumer, qids: list[str]) -> None:
    """What a proxy does after subscribing: the current interval's figures from the aggregates query."""
    start = interval_start(START_MS)  # the FAST world starts at START_MS; a test runs well within its interval
    r = await sim.client.post(
        "/api/v2/analytics/conversations/aggregates/query",
        headers=await sim.auth(),
        json={
            "interval": f"{iso(start)}/{iso(start + INTERVAL_MS)}",
            "granularity": "PT30M",
            "groupBy": ["queueId", "mediaType"],
            "filter": _filter(qids),
            "metrics": ["nOffered", "tAnswered", "tAbandon", "oServiceLevel", "tHandle"],
        },
    )
    assert r.status_code == 200, r.text
    consumer.aggregates(r.json())


async def _longest_from_query(sim: Sim, consumer: Consumer, qids: list[str]) -> None:
    """Longest waiting, as the real shape requires: the oldest ``observationDate`` of ``oWaiting``."""
    r = await sim.client.post(
        "/api/v2/analytics/queues/observations/query",
        headers=await sim.auth(),
        json={"filter": _filter(qids), "metrics": ["oWaiting"], "detailMetrics": ["oWaiting"]},
    )
    for result in r.json()["results"]:
        dates = [o["observationDate"] for o in result["data"][0]["observations"]]
        assert len(dates) == result["data"][0]["stats"]["count"]
        consumer.longest(result["group"]["queueId"], result["group"]["mediaType"], min(dates) if dates else None)


async def test_socket_messages_follow_the_real_shape_and_a_consumer_converges_to_the_truth(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(message_shape="real", speed=60.0, notify_min_interval_s=0.1)
    qids = await sim.queue_ids()
    ch = await new_channel(sim, await sim.auth(), qids)
    consumer = Consumer(real=True)
    bodies: list[dict[str, Any]] = []
    async with open_websocket_url(ch["connectUri"]) as ws:
        await _backfill_intervals(sim, consumer, qids)
        with trio.move_on_after(1.5):
            while True:
                bodies.append((await next_json(ws))["eventBody"])
                consumer.observation_body(bodies[-1])
        await sim.client.post("/sim/pause")  # pending interval figures go out now
        with trio.move_on_after(1.5):  # and the throttle's trailing edge delivers every group
            while True:
                bodies.append((await next_json(ws))["eventBody"])
                consumer.observation_body(bodies[-1])
    for body in bodies:
        shapes.check(shapes.REAL_BODY, body)
        assert all(m["metric"] != "oLongestWaiting" for m in body["data"][0]["metrics"])
    media_instants = [b for b in bodies if _instant(b) and "mediaType" in b["group"]]
    assert any(len(b["data"][0]["metrics"]) < 3 for b in media_instants), "instant messages carry changes only"
    assert any(not _instant(b) for b in bodies), "interval figures arrive in messages of their own"
    await _longest_from_query(sim, consumer, qids)
    truth = await sim.truth()
    now = parse_iso_ms(truth["asOf"])
    unknowable = (*ROUTING_API, "updatedAt")
    assert without(consumer.views(now), *unknowable) == without(truth["queues"], *unknowable)


async def test_eventbridge_time_is_whole_seconds_and_detail_type_is_the_topic_template(
    start_sim: StartSim, receiver: Receiver
) -> None:
    sim = await start_sim(message_shape="real")
    qid = (await sim.queue_ids())[0]
    topic = f"v2.analytics.queues.{qid}.observations"
    r = await sim.client.post(
        "/api/v2/events/subscriptions",
        headers=await sim.auth(),
        json={"callbackUrl": receiver.url, "topics": [topic], "format": "EventBridge"},
    )
    assert r.status_code == 201
    await sim.client.post("/sim/advance", json={"seconds": 60})
    for item in await receiver.wait_for(5):
        env = json.loads(item.body)
        shapes.check(shapes.REAL_EVENTBRIDGE_ENVELOPE, env)
        assert env["detail-type"] == TEMPLATE and env["detail"]["topicName"] == topic
        body = env["detail"]["eventBody"]
        shapes.check(shapes.REAL_BODY, body)
        if _instant(body):  # the envelope time is the message's instant, to the second
            assert env["time"] == body["data"][0]["interval"].split("/")[0][:19] + "Z"


async def test_legacy_eventbridge_keeps_the_concrete_topic_as_detail_type(
    start_sim: StartSim, receiver: Receiver
) -> None:
    sim = await start_sim(message_shape="legacy")
    qid = (await sim.queue_ids())[0]
    topic = f"v2.analytics.queues.{qid}.observations"
    await sim.client.post(
        "/api/v2/events/subscriptions",
        headers=await sim.auth(),
        json={"callbackUrl": receiver.url, "topics": [topic], "format": "EventBridge"},
    )
    await sim.client.post("/sim/advance", json={"seconds": 30})
    for item in await receiver.wait_for(3):
        env = json.loads(item.body)
        assert env["detail-type"] == topic
        shapes.check(shapes.WHOLE_SECONDS, env["time"])
        group = env["detail"]["eventBody"]["group"]
        shape = shapes.MEDIA_OBSERVATION_BODY if "mediaType" in group else shapes.AGENTS_OBSERVATION_BODY
        shapes.check(shape, env["detail"]["eventBody"])


async def test_event_bus_observations_payloads_follow_the_real_shape(start_sim: StartSim, receiver: Receiver) -> None:
    sim = await start_sim(message_shape="real", routing_status_mode="changed", agent_metric="oOnQueueUsers")
    qid = (await sim.queue_ids())[0]
    await sim.client.post(
        "/api/v2/events/subscriptions",
        headers=await sim.auth(),
        json={"callbackUrl": receiver.url, "topics": [f"v2.analytics.queues.{qid}.observations"]},
    )
    await sim.client.post("/sim/advance", json={"seconds": 120})
    await sim.client.post("/sim/pause")
    await receiver.wait_quiet()
    kinds = set()
    for item in receiver.received:
        body = json.loads(item.body)["payload"]
        shapes.check(shapes.REAL_BODY, body)
        if "mediaType" not in body["group"]:
            kinds.add("agents")
            names = {m["metric"] for m in body["data"][0]["metrics"]}
            assert names <= {"oOnQueueUsers", "oOffQueueUsers"}
        else:
            kinds.add("instant" if _instant(body) else "interval")
    assert kinds == {"agents", "instant", "interval"}


async def test_a_fast_world_started_just_before_a_boundary_rolls_its_interval_over(start_sim: StartSim) -> None:
    boundary = interval_start(START_MS) + INTERVAL_MS
    sim = await start_sim(message_shape="real", start_at_ms=boundary - 5_000, speed=10.0, interval_message_s=1.0)
    await sim.client.post("/sim/pause")
    qids = await sim.queue_ids()
    ch = await new_channel(sim, await sim.auth(), qids)
    named: list[str] = []
    async with open_websocket_url(ch["connectUri"]) as ws:
        await sim.client.post("/sim/resume")
        with trio.move_on_after(2.0):  # 20 world seconds: 5 before the boundary, 15 after
            while True:
                body = (await next_json(ws))["eventBody"]
                if not _instant(body):
                    named.append(body["data"][0]["interval"])
    old = f"{iso(boundary - INTERVAL_MS)}/{iso(boundary)}"
    new = f"{iso(boundary)}/{iso(boundary + INTERVAL_MS)}"
    assert new in named
    assert old not in named[named.index(new) :], "once the new interval is named, the old one is over"
    truth = await sim.truth()
    assert {v["interval"]["start"] for v in truth["queues"].values()} == {iso(boundary)}
