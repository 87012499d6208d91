"""The guide's Event Bus: subscriptions, signed deliveries, redelivery, drops, batches, faults."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import trio

from .conftest import Receiver, Sim, StartSim
from .consumer import Consumer, without_names

TOPIC = "com.genesyscloud.telephony.queue.update"


async def _subscribe(sim: Sim, h: dict[str, str], receiver: Receiver, **extra: Any) -> dict[str, Any]:
    r = await sim.client.post(
        "/api/v2/events/subscriptions", headers=h, json={"callbackUrl": receiver.url, "topics": [TOPIC], **extra}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_subscriptions_can_be_created_listed_read_and_deleted(sim: Sim, receiver: Receiver) -> None:
    h = await sim.auth()
    sub = await _subscribe(sim, h, receiver, retryIntervalSeconds=5, maxRetryAttempts=2, description="d")
    assert (sub["retryIntervalSeconds"], sub["maxRetryAttempts"], sub["format"]) == (5, 2, "JSON")
    listing = (await sim.client.get("/api/v2/events/subscriptions", headers=h)).json()
    assert [s["id"] for s in listing["entities"]] == [sub["id"]]
    assert (await sim.client.get(f"/api/v2/events/subscriptions/{sub['id']}", headers=h)).json() == sub
    assert (await sim.client.delete(f"/api/v2/events/subscriptions/{sub['id']}", headers=h)).status_code == 204
    assert (await sim.client.get(f"/api/v2/events/subscriptions/{sub['id']}", headers=h)).status_code == 404


async def test_wildcard_unknown_and_malformed_subscriptions_get_a_clear_400(sim: Sim) -> None:
    h = await sim.auth()
    cases = {
        "v2.analytics.queues.*.observations": "wildcard",
        "v2.analytics.queues.{id}.observations": "wildcard",
        "com.genesyscloud.#": "wildcard",
        "v2.analytics.queues.not-a-queue.observations": "unknown topic",
        "v2.users.x.presence": "unknown topic",
    }
    for topic, words in cases.items():
        r = await sim.client.post(
            "/api/v2/events/subscriptions", headers=h, json={"callbackUrl": "http://127.0.0.1:9/cb", "topics": [topic]}
        )
        assert r.status_code == 400 and words in r.json()["message"] and "topics[0]" in r.json()["message"]
    r = await sim.client.post("/api/v2/events/subscriptions", headers=h, json={"topics": [TOPIC]})
    assert r.status_code == 400 and "callbackUrl" in r.json()["message"]
    r = await sim.client.post(
        "/api/v2/events/subscriptions",
        headers=h,
        json={"callbackUrl": "http://x/", "topics": [TOPIC], "maxRetryAttempts": -1},
    )
    assert r.status_code == 400 and "maxRetryAttempts" in r.json()["message"]


async def test_subscriptions_need_a_valid_token(sim: Sim, receiver: Receiver) -> None:
    r = await sim.client.post("/api/v2/events/subscriptions", json={"callbackUrl": receiver.url, "topics": [TOPIC]})
    assert r.status_code == 401


async def test_deliveries_are_signed_queue_updates_with_increasing_observed_at(sim: Sim, receiver: Receiver) -> None:
    h = await sim.auth()
    sub = await _subscribe(sim, h, receiver)
    await receiver.wait_for(20)
    last: dict[tuple[str, str], str] = {}
    for item in receiver.received[:20]:
        expected = "sha256=" + hmac.new(sim.settings.callback_secret.encode(), item.body, hashlib.sha256).hexdigest()
        assert item.headers["x-hub-signature-256"] == expected
        assert item.headers["content-type"] == "application/json"
        env = json.loads(item.body)
        assert env["topic"] == TOPIC and env["subscriptionId"] == sub["id"]
        qs = env["payload"]["queueState"]
        key = (qs["queueId"], qs["mediaType"])
        assert qs["observedAt"] > last.get(key, ""), "observedAt strictly increases per (queue, mediaType)"
        last[key] = qs["observedAt"]


async def test_a_subscription_secret_overrides_the_default(sim: Sim, receiver: Receiver) -> None:
    await _subscribe(sim, await sim.auth(), receiver, secret="s3cret-for-this-sub")
    item = (await receiver.wait_for(1))[0]
    assert (
        item.headers["x-hub-signature-256"]
        == "sha256=" + hmac.new(b"s3cret-for-this-sub", item.body, hashlib.sha256).hexdigest()
    )


async def test_failed_delivery_is_redelivered_with_the_same_event_id_and_body(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    receiver.fail_each_body = 2
    await _subscribe(sim, await sim.auth(), receiver, retryIntervalSeconds=0.05, maxRetryAttempts=3)
    await sim.client.post("/sim/advance", json={"seconds": 5})
    await receiver.wait_quiet()
    bodies = [r.body for r in receiver.received]
    assert all(bodies.count(b) == 3 for b in bodies), "two failures, then the third attempt succeeds"
    ids = [json.loads(b)["eventId"] for b in bodies]
    assert len(set(ids)) == len(bodies) // 3
    stats = await sim.stats()
    assert stats["redeliveries"] == 2 * len(set(ids)) and stats["drops"] == 0
    assert stats["deliveries"] == len(set(ids))


async def test_delivery_is_dropped_and_counted_after_max_retry_attempts(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    receiver.fail_each_body = 100
    await _subscribe(sim, await sim.auth(), receiver, retryIntervalSeconds=0.05, maxRetryAttempts=2)
    await sim.client.post("/sim/advance", json={"seconds": 5})
    await receiver.wait_quiet()
    bodies = [r.body for r in receiver.received]
    assert all(bodies.count(b) == 3 for b in bodies), "one attempt plus two redeliveries"
    stats = await sim.stats()
    assert stats["drops"] == len(set(bodies)) and stats["redeliveries"] == 2 * len(set(bodies))
    assert stats["deliveries"] == 0


async def test_timeouts_count_as_failures(start_sim: StartSim, receiver: Receiver) -> None:
    sim = await start_sim(delivery_timeout_s=0.05)
    await sim.client.post("/sim/pause")
    r = await sim.client.post(
        "/api/v2/events/subscriptions",
        headers=await sim.auth(),
        json={
            "callbackUrl": "http://10.255.255.1:9/cb",
            "topics": [TOPIC],
            "retryIntervalSeconds": 0,
            "maxRetryAttempts": 0,
        },
    )
    assert r.status_code == 201
    await sim.client.post("/sim/advance", json={"seconds": 2})
    with trio.fail_after(3):
        while (await sim.stats())["drops"] == 0:  # noqa: ASYNC110 - a remote counter, polled over HTTP
            await trio.sleep(0.02)


async def test_batch_mode_posts_json_arrays_of_envelopes(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    await _subscribe(sim, await sim.auth(), receiver, batch=True)
    await sim.client.post("/sim/advance", json={"seconds": 60})
    item = (await receiver.wait_for(1))[0]
    batch = json.loads(item.body)
    assert isinstance(batch, list) and len(batch) > 1
    assert len({e["eventId"] for e in batch}) == len(batch)


async def test_duplicate_fault_sends_the_same_body_twice(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.put("/sim/faults", json={"duplicateProbability": 1.0})
    await _subscribe(sim, await sim.auth(), receiver)
    await sim.client.post("/sim/advance", json={"seconds": 2})
    await receiver.wait_quiet()
    bodies = [r.body for r in receiver.received]
    assert bodies and all(bodies.count(b) == 2 for b in bodies)
    assert (await sim.stats())["duplicates"] == len(bodies) // 2


async def test_reorder_fault_swaps_deliveries(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.put("/sim/faults", json={"reorderProbability": 1.0})
    receiver.gate = trio.Event()
    await _subscribe(sim, await sim.auth(), receiver)
    for _ in range(6):  # the first delivery is held at the gate while the later ticks pile up
        await sim.client.post("/sim/advance", json={"seconds": 2})
    receiver.gate.set()
    await receiver.wait_quiet()
    last: dict[tuple[str, str], str] = {}
    inversions = 0
    for r in receiver.received:
        qs = json.loads(r.body)["payload"]["queueState"]
        key = (qs["queueId"], qs["mediaType"])
        inversions += qs["observedAt"] < last.get(key, "")
        last[key] = max(last.get(key, ""), qs["observedAt"])
    assert inversions > 0


async def test_eventbridge_format_wraps_observation_bodies(start_sim: StartSim, receiver: Receiver) -> None:
    sim = await start_sim(message_shape="legacy")  # the real shape's detail-type: test_real_shape.py
    qid = (await sim.queue_ids())[0]
    topic = f"v2.analytics.queues.{qid}.observations"
    r = await sim.client.post(
        "/api/v2/events/subscriptions",
        headers=await sim.auth(),
        json={"callbackUrl": receiver.url, "topics": [topic], "format": "EventBridge", "apiKey": "k-123"},
    )
    assert r.status_code == 201
    item = (await receiver.wait_for(1))[0]
    env = json.loads(item.body)
    assert env["detail-type"] == topic and env["detail"]["topicName"] == topic
    assert env["source"].startswith("aws.partner/genesys.com/cloud/")
    assert env["detail"]["eventBody"]["group"]["queueId"] == qid
    assert item.headers["x-api-key"] == "k-123"


async def test_eventbus_consumer_converges_to_the_truth_after_pause(start_sim: StartSim, receiver: Receiver) -> None:
    sim = await start_sim(speed=60.0)  # every (queue, media) changes after the subscription
    await _subscribe(sim, await sim.auth(), receiver)
    await trio.sleep(1.0)
    await sim.client.post("/sim/pause")
    await receiver.wait_quiet()
    consumer = Consumer()
    for item in receiver.received:
        consumer.queue_state(json.loads(item.body)["payload"]["queueState"])
    truth = await sim.truth()
    assert without_names(consumer.views()) == without_names(truth["queues"])
    assert consumer.names == {q: v["name"] for q, v in truth["queues"].items()}


async def test_latency_fault_delays_every_delivery(sim: Sim, receiver: Receiver) -> None:
    await sim.client.post("/sim/pause")
    await _subscribe(sim, await sim.auth(), receiver)
    await sim.client.post("/sim/advance", json={"seconds": 60})
    await receiver.wait_for(1)  # without the fault deliveries flow at once
    await receiver.wait_quiet()
    before = len(receiver.received)
    assert (await sim.client.put("/sim/faults", json={"latencyMs": 600})).status_code == 200
    started = trio.current_time()
    await sim.client.post("/sim/advance", json={"seconds": 60})
    await receiver.wait_for(before + 1)
    assert trio.current_time() - started >= 0.6
