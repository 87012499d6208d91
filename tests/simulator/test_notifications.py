"""Notifications: channels, subscriptions, the WebSocket and its lifecycle, throttling, convergence."""

from __future__ import annotations

import itertools
import json

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from simulator.notifications import Connection

from .conftest import Sim, StartSim
from .consumer import ROUTING_API, Consumer, without
from .wsutil import new_channel, next_json


async def _closed(ws: object, within: float = 3.0) -> None:
    from trio_websocket import WebSocketConnection

    assert isinstance(ws, WebSocketConnection)
    with trio.fail_after(within), pytest.raises(ConnectionClosed):
        while True:
            await ws.get_message()


async def test_subscribed_socket_receives_observation_messages_for_its_topics(sim: Sim) -> None:
    h = await sim.auth()
    qids = await sim.queue_ids()
    ch = await new_channel(sim, h, qids[:1])
    assert ch["connectUri"] == f"ws://{sim.url.removeprefix('http://')}/channels/{ch['id']}"
    async with open_websocket_url(ch["connectUri"]) as ws:
        await sim.client.post("/sim/advance", json={"seconds": 20})
        for _ in range(3):
            msg = await next_json(ws)
            assert msg["topicName"] == f"v2.analytics.queues.{qids[0]}.observations"
            assert msg["eventBody"]["group"]["queueId"] == qids[0]


async def test_ping_gets_pong_and_heartbeats_arrive(start_sim: StartSim) -> None:
    sim = await start_sim(heartbeat_s=0.1)
    ch = await new_channel(sim, await sim.auth(), [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await ws.send_message(json.dumps({"message": "ping"}))
        messages = {(await next_json(ws, skip_heartbeats=False))["eventBody"]["message"] for _ in range(3)}
        assert messages == {"pong", "WebSocket Heartbeat"}


async def test_unknown_channel_socket_is_rejected(sim: Sim) -> None:
    with pytest.raises(ConnectionRejected):
        async with open_websocket_url(sim.url.replace("http", "ws") + "/channels/nope"):
            pass


async def test_a_second_socket_on_a_channel_drops_the_first(sim: Sim) -> None:
    ch = await new_channel(sim, await sim.auth(), await sim.queue_ids())
    async with open_websocket_url(ch["connectUri"]) as first:
        async with open_websocket_url(ch["connectUri"]) as second:
            await _closed(first)
            await sim.client.post("/sim/advance", json={"seconds": 10})
            assert (await next_json(second))["topicName"].startswith("v2.analytics.queues.")
    assert (await sim.stats())["sockets_replaced"] == 1


async def test_the_21st_channel_evicts_the_oldest_idle_one(sim: Sim) -> None:
    h = await sim.auth()
    ids = [(await sim.client.post("/api/v2/notifications/channels", headers=h)).json()["id"] for _ in range(20)]
    chans = (await sim.client.get("/api/v2/notifications/channels", headers=h)).json()["entities"]
    async with open_websocket_url(chans[0]["connectUri"]):  # the oldest is connected, so not idle
        await trio.sleep(0.05)
        await sim.client.post("/api/v2/notifications/channels", headers=h)
        heads = [(await sim.client.head(f"/api/v2/notifications/channels/{i}", headers=h)).status_code for i in ids]
    assert heads == [200, 404] + [200] * 18
    assert (await sim.stats())["channels_evicted"] == 1


async def test_topic_limit_and_unknown_topics_are_400(start_sim: StartSim) -> None:
    sim = await start_sim(max_topics_per_channel=2)
    h = await sim.auth()
    ch = (await sim.client.post("/api/v2/notifications/channels", headers=h)).json()
    url = f"/api/v2/notifications/channels/{ch['id']}/subscriptions"
    topics = [{"id": f"v2.analytics.queues.{q}.observations"} for q in await sim.queue_ids()]
    r = await sim.client.put(url, json=topics[:3], headers=h)
    assert r.status_code == 400 and "at most 2" in r.json()["message"]
    r = await sim.client.put(url, json=[{"id": "v2.analytics.queues.*.observations"}], headers=h)
    assert r.status_code == 400
    assert (await sim.client.put(url, json=topics[:2], headers=h)).json()["entities"][0]["state"] == "Permitted"
    assert (await sim.client.post(url, json=topics[2:3], headers=h)).status_code == 400
    assert (await sim.client.delete(url, headers=h)).status_code == 204
    assert (await sim.client.get(url, headers=h)).json() == {"entities": []}


async def test_socket_closing_is_sent_then_the_socket_closes_after_the_scaled_grace(start_sim: StartSim) -> None:
    sim = await start_sim(speed=100.0)
    ch = await new_channel(sim, await sim.auth(), [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await trio.sleep(0.05)
        r = await sim.client.post("/sim/sockets/closing", json={"graceS": 20})
        assert r.json() == {"warned": 1, "closeAfterS": 0.2}
        msg = await next_json(ws)
        assert msg["topicName"] == "v2.system.socket_closing"
        t0 = trio.current_time()
        await _closed(ws)
        assert trio.current_time() - t0 >= 0.15
    async with open_websocket_url(ch["connectUri"]) as ws:  # the channel survives; reconnect works
        await ws.send_message(json.dumps({"message": "ping"}))
        assert (await next_json(ws))["eventBody"]["message"] == "pong"


async def test_revoked_token_sends_token_revoked_and_closes_the_channel(sim: Sim) -> None:
    h = await sim.auth()
    ch = await new_channel(sim, h, [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await trio.sleep(0.05)
        await sim.client.post("/sim/tokens/revoke")
        msg = await next_json(ws)
        assert msg["topicName"] == f"v2.system.token_revoked.{ch['id']}"
        await _closed(ws)
    h2 = await sim.auth()
    assert (await sim.client.head(f"/api/v2/notifications/channels/{ch['id']}", headers=h2)).status_code == 404


async def test_channel_expires_unless_resubscribed(start_sim: StartSim) -> None:
    sim = await start_sim(channel_ttl_s=0.6)
    h = await sim.auth()
    kept = await new_channel(sim, h, [])
    lapsed = await new_channel(sim, h, [])
    for _ in range(3):
        await trio.sleep(0.3)
        await sim.client.put(f"/api/v2/notifications/channels/{kept['id']}/subscriptions", json=[], headers=h)
    assert (await sim.client.head(f"/api/v2/notifications/channels/{kept['id']}", headers=h)).status_code == 200
    assert (await sim.client.head(f"/api/v2/notifications/channels/{lapsed['id']}", headers=h)).status_code == 404


async def test_at_most_one_message_per_second_per_topic_and_the_last_state_still_arrives(start_sim: StartSim) -> None:
    # fast enough that every (queue, media) changes after the subscription (no REST backfill here)
    sim = await start_sim(notify_min_interval_s=0.25, speed=60.0, message_shape="legacy")
    qids = await sim.queue_ids()
    ch = await new_channel(sim, await sim.auth(), qids)
    consumer = Consumer()
    sent: dict[str, list[float]] = {}
    async with open_websocket_url(ch["connectUri"]) as ws:
        with trio.move_on_after(1.2):
            while True:
                msg = await next_json(ws)
                sent.setdefault(msg["topicName"], []).append(trio.current_time())
                consumer.observation_body(msg["eventBody"])
        await sim.client.post("/sim/pause")
        with trio.move_on_after(1.5):  # trailing edge: every pending group still goes out
            while True:
                consumer.observation_body((await next_json(ws))["eventBody"])
    for times in sent.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 0.2 for g in gaps), gaps
    truth = await sim.truth()
    no_aht = (*ROUTING_API, "interval.handled", "interval.ahtMs")  # the legacy body carries no tHandle
    assert without(consumer.views(), *no_aht) == without(truth["queues"], *no_aht)


async def test_socket_side_subscribe_is_acknowledged(sim: Sim) -> None:
    qid = (await sim.queue_ids())[0]
    ch = await new_channel(sim, await sim.auth(), [])
    async with open_websocket_url(ch["connectUri"]) as ws:
        await ws.send_message(
            json.dumps(
                {"message": "subscribe", "correlationId": "c1", "topics": [f"v2.analytics.queues.{qid}.observations"]}
            )
        )
        assert await next_json(ws) == {"result": "200", "status": "subscribed", "correlationId": "c1"}


def test_offering_to_a_socket_whose_writer_is_gone_is_false_not_a_crash() -> None:
    """A proxy SIGKILLed mid-wave: its socket's writer ended before the connection was unregistered.
    Found by the cluster test (the simulator's flush loop died with BrokenResourceError)."""
    send, receive = trio.open_memory_channel[str](4)
    connection = Connection(send)
    assert connection.offer("a")
    receive.close()
    assert connection.offer("b") is False
