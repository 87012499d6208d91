"""The faults the chaos runner mixes: callback 5xx and lost answers, hostile frames and deliveries,
latency spikes, 429 storms, silent sockets, vanishing subscriptions and channels, clearing."""

from __future__ import annotations

import json
from typing import Any

import trio
from trio_websocket import open_websocket_url

from .conftest import Receiver, Sim, StartSim
from .wsutil import new_channel, next_json

TOPIC = "com.genesyscloud.telephony.queue.update"


async def _subscribe(sim: Sim, receiver: Receiver, **extra: Any) -> None:
    r = await sim.client.post("/api/v2/events/subscriptions", headers=await sim.auth(),
                              json={"callbackUrl": receiver.url, "topics": [TOPIC], **extra})
    assert r.status_code == 201, r.text


async def test_callback_errors_never_reach_the_callback_and_are_redelivered(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    assert (await sim.client.put("/sim/faults", json={"callbackErrorProbability": 1.0})).status_code == 200
    await _subscribe(sim, receiver, retryIntervalSeconds=0.05, maxRetryAttempts=2)
    await sim.client.post("/sim/advance", json={"seconds": 5})
    with trio.fail_after(5):
        while (await sim.stats())["drops"] == 0:  # noqa: ASYNC110 - a remote counter, polled over HTTP
            await trio.sleep(0.02)
    stats = await sim.stats()
    assert receiver.received == []
    assert stats["callback_errors_injected"] == 3 * stats["drops"] and stats["redeliveries"] == 2 * stats["drops"]


async def test_a_lost_answer_redelivers_what_the_callback_already_took(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.put("/sim/faults", json={"callbackTimeoutProbability": 1.0})
    await _subscribe(sim, receiver, retryIntervalSeconds=0.05, maxRetryAttempts=2)
    await sim.client.post("/sim/advance", json={"seconds": 5})
    await receiver.wait_for(3)
    await receiver.wait_quiet()
    bodies = [r.body for r in receiver.received]
    assert all(bodies.count(b) == 3 for b in bodies), "answered 200 each time, yet sent three times"
    stats = await sim.stats()
    assert stats["callback_timeouts_injected"] == len(bodies) and stats["deliveries"] == 0


async def test_hostile_deliveries_are_signed_malformed_and_sent_once(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.put("/sim/faults", json={"hostileProbability": 1.0})
    receiver.statuses = [400] * 1000  # what a consumer answers to them (and, here, to the real ones too)
    await _subscribe(sim, receiver, retryIntervalSeconds=60, maxRetryAttempts=1)
    await sim.client.post("/sim/advance", json={"seconds": 5})
    await receiver.wait_for(2)
    await receiver.wait_quiet()
    stats = await sim.stats()
    assert stats["hostile_sent"] >= 1
    assert len(receiver.received) == 2 * stats["hostile_sent"], "one hostile delivery before each real one"
    hostile = receiver.received[0::2]
    for item in hostile:
        assert item.headers["x-hub-signature-256"].startswith("sha256=")
        try:
            body = json.loads(item.body)
        except ValueError:
            continue
        assert not (isinstance(body, dict) and "queueState" in body.get("payload", {})), "never a valid queue update"


async def test_a_rate_limit_storm_answers_429_with_retry_after_until_it_ends(sim: Sim) -> None:
    h = await sim.auth()
    assert (await sim.client.post("/sim/ratelimit/storm", json={"seconds": 0.5})).json() == {"stormForS": 0.5}
    r = await sim.client.get("/api/v2/routing/queues", headers=h)
    assert r.status_code == 429 and r.json()["code"] == "too.many.requests.retry.after"
    assert r.headers["Retry-After"] == "1" and int(r.headers["inin-ratelimit-count"]) > 300
    await trio.sleep(0.6)
    assert (await sim.client.get("/api/v2/routing/queues", headers=h)).status_code == 200
    stats = await sim.stats()
    assert stats["rate_limit_storms"] == 1 and stats["responses_429"] == 1
    r = await sim.client.post("/sim/ratelimit/storm", json={"seconds": -1})
    assert r.status_code == 400 and "seconds" in r.json()["error"]


async def test_a_silent_socket_stays_open_and_sends_nothing(start_sim: StartSim) -> None:
    sim = await start_sim(heartbeat_s=0.1)
    h = await sim.auth()
    ch = await new_channel(sim, h, (await sim.queue_ids())[:1])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await next_json(ws, skip_heartbeats=False)  # a heartbeat: the socket works
        assert (await sim.client.post("/sim/sockets/silence", json={})).json() == {"silenced": 1}
        while True:  # what was queued before the silence may still come
            with trio.move_on_after(0.3) as quiet:
                await ws.get_message()
            if quiet.cancelled_caught:
                break
        await ws.send_message('{"message":"ping"}')
        await sim.client.post("/sim/advance", json={"seconds": 30})
        with trio.move_on_after(0.8) as cs:
            await ws.get_message()
        assert cs.cancelled_caught, "no pong, no heartbeat, no message"
        assert not ws.closed
        assert (await sim.stats())["frames_silenced"] >= 3
    async with open_websocket_url(ch["connectUri"]) as ws:  # a new socket on the channel is a normal one
        await next_json(ws, skip_heartbeats=False)


async def test_no_longer_subscribed_drops_the_topics_and_gone_removes_the_channel(sim: Sim) -> None:
    h = await sim.auth()
    ch = await new_channel(sim, h, (await sim.queue_ids())[:1])
    subs = f"/api/v2/notifications/channels/{ch['id']}/subscriptions"
    async with open_websocket_url(ch["connectUri"]) as ws:
        r = await sim.client.post("/sim/channels/unsubscribe", json={"channelId": ch["id"]})
        assert r.json() == {"unsubscribed": 1, "gone": False}
        msg = await next_json(ws)
        assert msg["topicName"] == f"v2.system.no_longer_subscribed.{ch['id']}"
        assert msg["eventBody"]["systemTopicType"] == "no_longer_subscribed"
        assert (await sim.client.get(subs, headers=h)).json()["entities"] == []
        r = await sim.client.post("/sim/channels/unsubscribe", json={"gone": True})
        assert r.json() == {"unsubscribed": 1, "gone": True}
        assert (await next_json(ws))["topicName"].startswith("v2.system.no_longer_subscribed.")
    head = await sim.client.head(f"/api/v2/notifications/channels/{ch['id']}", headers=h)
    assert head.status_code == 404
    assert (await sim.client.post("/sim/channels/unsubscribe", json={"gone": 1})).status_code == 400


async def test_hostile_frames_and_latency_spikes_on_the_websocket(start_sim: StartSim) -> None:
    sim = await start_sim(notify_min_interval_s=0.01)
    h = await sim.auth()
    qid = (await sim.queue_ids())[0]
    ch = await new_channel(sim, h, [qid])
    await sim.client.put("/sim/faults", json={"hostileProbability": 1.0, "latencySpikeProbability": 1.0,
                                              "latencySpikeMs": 1})
    async with open_websocket_url(ch["connectUri"]) as ws:
        await sim.client.post("/sim/advance", json={"seconds": 20})
        frames = []
        with trio.move_on_after(1.0):
            while len(frames) < 6:
                frames.append(await ws.get_message())
    bad = 0
    for raw in frames:
        try:
            msg = json.loads(raw)
            body = msg["eventBody"]
            assert body["group"]["queueId"] == qid and isinstance(body["data"][0]["metrics"], list)
            counts = [m["stats"].get("count", 0) for m in body["data"][0]["metrics"]]
            assert all(isinstance(c, int) and 0 <= c < 10**9 for c in counts)
            assert body["data"][0]["interval"][:4] == "2026"
            assert all(m["stats"].get("sum", 0) >= 0 for m in body["data"][0]["metrics"])
        except (ValueError, KeyError, TypeError, AssertionError, IndexError):
            bad += 1
    assert bad >= len(frames) // 2 >= 1, "every real message is preceded by a hostile one"
    stats = await sim.stats()
    assert stats["hostile_sent"] >= 1 and stats["latency_spikes"] >= 1


async def test_delete_faults_turns_every_fault_off(sim: Sim) -> None:
    await sim.client.put("/sim/faults", json={"hostileProbability": 0.01, "latencySpikeMs": 50,
                                              "callbackErrorProbability": 0.5})
    r = await sim.client.delete("/sim/faults")
    assert r.status_code == 200
    assert r.json()["hostileProbability"] == 0 and r.json()["latencySpikeMs"] == 2000
    assert r.json()["callbackErrorProbability"] == 0
