"""Contract: every JSON the simulator produces matches the platform reference's shapes (shapes.py).

One test per endpoint (or per kind of pushed message), so a failure names what broke.
"""

from __future__ import annotations

import json
from typing import Any

from trio_websocket import WebSocketConnection, open_websocket_url

from . import shapes
from .conftest import Receiver, Sim, StartSim
from .wsutil import new_channel, next_json

QUEUE_UPDATE = "com.genesyscloud.telephony.queue.update"
REAL_SHAPES = {
    "instant": shapes.REAL_INSTANT_BODY,
    "interval": shapes.REAL_INTERVAL_BODY,
    "agents": shapes.REAL_AGENTS_BODY,
}


async def _subscribe(sim: Sim, receiver: Receiver, **body: Any) -> dict[str, Any]:
    r = await sim.client.post(
        "/api/v2/events/subscriptions", headers=await sim.auth(), json={"callbackUrl": receiver.url, **body}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_oauth_token(sim: Sim) -> None:
    r = await sim.client.post(
        "/oauth/token",
        auth=(sim.settings.client_id, sim.settings.client_secret),
        data={"grant_type": "client_credentials"},
    )
    shapes.check(shapes.TOKEN, r.json())


async def test_oauth_token_invalid_client(sim: Sim) -> None:
    r = await sim.client.post("/oauth/token", auth=("x", "y"), data={"grant_type": "client_credentials"})
    shapes.check(shapes.OAUTH_ERROR, r.json())


async def test_platform_error_body(sim: Sim) -> None:
    shapes.check(shapes.ERROR_BODY, (await sim.client.get("/api/v2/routing/queues")).json())


async def test_routing_queues(sim: Sim) -> None:
    page = await sim.client.get("/api/v2/routing/queues", params={"pageSize": 2}, headers=await sim.auth())
    shapes.check(shapes.QUEUES_PAGE, page.json())


async def test_events_subscriptions(sim: Sim, receiver: Receiver) -> None:
    sub = await _subscribe(
        sim, receiver, topics=[QUEUE_UPDATE], retryIntervalSeconds=1, maxRetryAttempts=1, description="contract"
    )
    shapes.check(shapes.SUBSCRIPTION, sub)
    listing = (await sim.client.get("/api/v2/events/subscriptions", headers=await sim.auth())).json()
    for entity in listing["entities"]:
        shapes.check(shapes.SUBSCRIPTION, entity)


async def test_event_bus_queue_update_delivery(sim: Sim, receiver: Receiver) -> None:
    sub = await _subscribe(sim, receiver, topics=[QUEUE_UPDATE])
    await sim.client.post("/sim/advance", json={"seconds": 30})
    for item in await receiver.wait_for(3):
        body = json.loads(item.body)
        assert body["eventId"] and body["subscriptionId"] == sub["id"] and body["topic"] == QUEUE_UPDATE
        shapes.check(shapes.Pattern(shapes.ISO_MS), body["timestamp"])
        shapes.check(shapes.QUEUE_STATE, body["payload"]["queueState"])


async def test_event_bus_observations_delivery(start_sim: StartSim, receiver: Receiver) -> None:
    sim = await start_sim(message_shape="legacy")
    qid = (await sim.queue_ids())[0]
    sub = await _subscribe(sim, receiver, topics=[f"v2.analytics.queues.{qid}.observations"])
    await sim.client.post("/sim/advance", json={"seconds": 30})
    seen = set()
    for item in await receiver.wait_for(4):
        body = json.loads(item.body)
        assert body["subscriptionId"] == sub["id"]
        group = body["payload"]["group"]
        shape = shapes.MEDIA_OBSERVATION_BODY if "mediaType" in group else shapes.AGENTS_OBSERVATION_BODY
        shapes.check(shape, body["payload"])
        seen.add("media" if "mediaType" in group else "agents")
    assert "media" in seen


async def test_eventbridge_delivery(sim: Sim, receiver: Receiver) -> None:
    qid = (await sim.queue_ids())[0]
    await _subscribe(sim, receiver, format="EventBridge", topics=[f"v2.analytics.queues.{qid}.observations"])
    await sim.client.post("/sim/advance", json={"seconds": 30})
    for item in await receiver.wait_for(3):
        shapes.check(shapes.EVENTBRIDGE_ENVELOPE, json.loads(item.body))


async def test_notifications_channel_create_and_list(sim: Sim) -> None:
    h = await sim.auth()
    shapes.check(shapes.CHANNEL, await new_channel(sim, h, []))
    shapes.check(shapes.CHANNEL_LIST, (await sim.client.get("/api/v2/notifications/channels", headers=h)).json())


async def test_notifications_channel_subscriptions(sim: Sim) -> None:
    h = await sim.auth()
    ch = await new_channel(sim, h, await sim.queue_ids())
    url = f"/api/v2/notifications/channels/{ch['id']}/subscriptions"
    shapes.check(shapes.CHANNEL_TOPIC_LISTING, (await sim.client.get(url, headers=h)).json())
    rejected = await sim.client.post(
        url, params={"ignoreErrors": "true"}, json=[{"id": "v2.users.x.presence"}], headers=h
    )
    shapes.check(shapes.CHANNEL_TOPIC_LISTING, rejected.json())
    assert rejected.json()["entities"][-1]["state"] == "Rejected"


async def test_websocket_observation_messages_legacy_shape(start_sim: StartSim) -> None:
    sim = await start_sim(message_shape="legacy")
    ch = await new_channel(sim, await sim.auth(), await sim.queue_ids())
    async with open_websocket_url(ch["connectUri"]) as ws:
        await sim.client.post("/sim/advance", json={"seconds": 30})
        seen = set()
        while seen != {"media", "agents"}:
            msg = await next_json(ws)
            shapes.check(shapes.NOTIFICATION, msg)
            if "mediaType" in msg["eventBody"]["group"]:
                shapes.check(shapes.MEDIA_OBSERVATION_BODY, msg["eventBody"])
                seen.add("media")
            else:
                shapes.check(shapes.AGENTS_OBSERVATION_BODY, msg["eventBody"])
                seen.add("agents")


async def test_websocket_observation_messages_real_shape(start_sim: StartSim) -> None:
    sim = await start_sim(message_shape="real", routing_status_mode="changed")
    ch = await new_channel(sim, await sim.auth(), await sim.queue_ids())
    async with open_websocket_url(ch["connectUri"]) as ws:
        await sim.client.post("/sim/advance", json={"seconds": 30})
        await sim.client.post("/sim/pause")
        seen = set()
        while seen != {"instant", "interval", "agents"}:
            msg = await next_json(ws)
            shapes.check(shapes.NOTIFICATION, msg)
            body = msg["eventBody"]
            start, end = body["data"][0]["interval"].split("/")
            kind = "agents" if "mediaType" not in body["group"] else "instant" if start == end else "interval"
            shapes.check(REAL_SHAPES[kind], body)
            seen.add(kind)


async def test_websocket_pong(sim: Sim) -> None:
    ch = await new_channel(sim, await sim.auth(), [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await ws.send_message(json.dumps({"message": "ping"}))
        shapes.check(shapes.PONG, await next_json(ws))


async def test_websocket_heartbeat(start_sim: StartSim) -> None:
    sim = await start_sim(heartbeat_s=0.2)
    ch = await new_channel(sim, await sim.auth(), [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        shapes.check(shapes.HEARTBEAT, await _heartbeat(ws))


async def test_websocket_socket_closing(sim: Sim) -> None:
    ch = await new_channel(sim, await sim.auth(), [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await ws.send_message(json.dumps({"message": "ping"}))
        await next_json(ws)  # the pong: the socket is registered before the warning goes out
        await sim.client.post("/sim/sockets/closing", json={"graceS": 5})
        while (msg := await next_json(ws))["topicName"] != "v2.system.socket_closing":
            pass
        shapes.check(shapes.NOTIFICATION, msg)
        shapes.check(shapes.SYSTEM_MESSAGE_BODY, msg["eventBody"])


async def test_observations_query(sim: Sim) -> None:
    qids = await sim.queue_ids()
    obs = await sim.client.post(
        "/api/v2/analytics/queues/observations/query",
        headers=await sim.auth(),
        json={
            "filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": q} for q in qids]},
            "metrics": ["oWaiting", "oInteracting", "oAlerting", "oUserRoutingStatuses", "oOnQueueUsers"],
            "detailMetrics": ["oWaiting"],
        },
    )
    shapes.check(shapes.OBSERVATIONS_RESPONSE, obs.json())


async def test_aggregates_query(sim: Sim) -> None:
    await sim.client.post("/sim/advance", json={"seconds": 30})
    iv = next(iter((await sim.truth())["queues"].values()))["interval"]
    agg = await sim.client.post(
        "/api/v2/analytics/conversations/aggregates/query",
        headers=await sim.auth(),
        json={
            "interval": f"{iv['start']}/{iv['end']}",
            "groupBy": ["queueId", "mediaType"],
            "metrics": ["nOffered", "tAnswered", "tAbandon", "oServiceLevel", "tHandle"],
        },
    )
    assert agg.json()["results"]
    shapes.check(shapes.AGGREGATES_RESPONSE, agg.json())


async def test_sim_truth(sim: Sim) -> None:
    await sim.client.post("/sim/advance", json={"seconds": 30})
    shapes.check(shapes.TRUTH, await sim.truth())


async def _heartbeat(ws: WebSocketConnection) -> object:
    while True:
        msg = await next_json(ws, skip_heartbeats=False)
        if msg.get("eventBody", {}).get("message") == "WebSocket Heartbeat":
            return msg
