"""Contract: every JSON the simulator produces matches the platform reference's shapes (shapes.py)."""

from __future__ import annotations

import json

from trio_websocket import WebSocketConnection, open_websocket_url

from . import shapes
from .conftest import Receiver, StartSim
from .wsutil import new_channel, next_json


async def test_every_produced_json_matches_the_reference_shapes(start_sim: StartSim, receiver: Receiver) -> None:
    sim = await start_sim(heartbeat_s=0.2)
    c = sim.client
    r = await c.post(
        "/oauth/token",
        auth=(sim.settings.client_id, sim.settings.client_secret),
        data={"grant_type": "client_credentials"},
    )
    shapes.check(shapes.TOKEN, r.json())
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    shapes.check(
        shapes.OAUTH_ERROR,
        (await c.post("/oauth/token", auth=("x", "y"), data={"grant_type": "client_credentials"})).json(),
    )
    shapes.check(shapes.ERROR_BODY, (await c.get("/api/v2/routing/queues")).json())

    page = (await c.get("/api/v2/routing/queues", params={"pageSize": 2}, headers=h)).json()
    shapes.check(shapes.QUEUES_PAGE, page)
    qids = await sim.queue_ids()

    # Event Bus: envelope, batch, EventBridge
    sub = await c.post(
        "/api/v2/events/subscriptions",
        headers=h,
        json={
            "callbackUrl": receiver.url,
            "topics": ["com.genesyscloud.telephony.queue.update", f"v2.analytics.queues.{qids[0]}.observations"],
            "retryIntervalSeconds": 1,
            "maxRetryAttempts": 1,
            "description": "contract",
        },
    )
    shapes.check(shapes.SUBSCRIPTION, sub.json())
    await c.post(
        "/api/v2/events/subscriptions",
        headers=h,
        json={
            "callbackUrl": receiver.url,
            "format": "EventBridge",
            "topics": [f"v2.analytics.queues.{qids[0]}.observations"],
        },
    )
    await c.post("/sim/advance", json={"seconds": 30})
    received = await receiver.wait_for(10)
    kinds = set()
    for item in received:
        body = json.loads(item.body)
        if "detail-type" in body:
            shapes.check(shapes.EVENTBRIDGE_ENVELOPE, body)
            kinds.add("eventbridge")
            continue
        assert body["eventId"] and body["subscriptionId"] == sub.json()["id"]
        shapes.check(shapes.Pattern(shapes.ISO_MS), body["timestamp"])
        if body["topic"] == "com.genesyscloud.telephony.queue.update":
            shapes.check(shapes.QUEUE_STATE, body["payload"]["queueState"])
            kinds.add("queue.update")
        else:
            group = body["payload"]["group"]
            shape = shapes.MEDIA_OBSERVATION_BODY if "mediaType" in group else shapes.AGENTS_OBSERVATION_BODY
            shapes.check(shape, body["payload"])
            kinds.add("observations")
    assert kinds == {"eventbridge", "queue.update", "observations"}

    # Notifications
    ch = await new_channel(sim, h, qids)
    shapes.check(shapes.CHANNEL, ch)
    shapes.check(shapes.CHANNEL_LIST, (await c.get("/api/v2/notifications/channels", headers=h)).json())
    shapes.check(
        shapes.CHANNEL_TOPIC_LISTING,
        (await c.get(f"/api/v2/notifications/channels/{ch['id']}/subscriptions", headers=h)).json(),
    )
    rejected = await c.post(
        f"/api/v2/notifications/channels/{ch['id']}/subscriptions",
        params={"ignoreErrors": "true"},
        json=[{"id": "v2.users.x.presence"}],
        headers=h,
    )
    shapes.check(shapes.CHANNEL_TOPIC_LISTING, rejected.json())
    assert rejected.json()["entities"][-1]["state"] == "Rejected"
    async with open_websocket_url(ch["connectUri"]) as ws:
        await c.post("/sim/advance", json={"seconds": 30})
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
        await ws.send_message(json.dumps({"message": "ping"}))
        while (msg := await next_json(ws))["topicName"] != "channel.metadata":
            pass
        shapes.check(shapes.PONG, msg)
        shapes.check(shapes.HEARTBEAT, await _heartbeat(ws))
        await c.post("/sim/sockets/closing", json={"graceS": 5})
        while (msg := await next_json(ws))["topicName"] != "v2.system.socket_closing":
            pass
        shapes.check(shapes.NOTIFICATION, msg)
        shapes.check(shapes.SYSTEM_MESSAGE_BODY, msg["eventBody"])

    # Analytics
    obs = await c.post(
        "/api/v2/analytics/queues/observations/query",
        headers=h,
        json={
            "filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": q} for q in qids]},
            "metrics": ["oWaiting", "oInteracting", "oAlerting", "oUserRoutingStatuses", "oOnQueueUsers"],
            "detailMetrics": ["oWaiting"],
        },
    )
    shapes.check(shapes.OBSERVATIONS_RESPONSE, obs.json())
    truth = await sim.truth()
    iv = next(iter(truth["queues"].values()))["interval"]
    agg = await c.post(
        "/api/v2/analytics/conversations/aggregates/query",
        headers=h,
        json={
            "interval": f"{iv['start']}/{iv['end']}",
            "groupBy": ["queueId", "mediaType"],
            "metrics": ["nOffered", "tAnswered", "tAbandon", "oServiceLevel"],
        },
    )
    shapes.check(shapes.AGGREGATES_RESPONSE, agg.json())
    shapes.check(shapes.TRUTH, truth)


async def _heartbeat(ws: WebSocketConnection) -> object:
    while True:
        msg = await next_json(ws, skip_heartbeats=False)
        if msg.get("eventBody", {}).get("message") == "WebSocket Heartbeat":
            return msg
