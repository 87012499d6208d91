"""A Notifications lane without a network: its inbox, and frames fed to it directly."""

from __future__ import annotations

import json

import trio

from proxy.runtime import build_runtime
from proxy.upstream.channels import Channel
from proxy.upstream.lane import Inbox
from proxy.upstream.platform import QueueDirectory
from proxy.upstream.socket import Socket
from tests.conftest import proxy_settings
from tests.test_hostile_values import LATER, NOW, _lane, observation_body


def _socket() -> Socket:
    return Socket(Channel("c", "ws://x", 1, 60.0, 48.0))


async def test_the_inbox_never_drops_a_died_however_busy() -> None:
    inbox = Inbox()
    old, new = _socket(), _socket()
    for _ in range(1000):  # a burst of notices while the supervisor is busy
        inbox.put("closing", old)
        inbox.put("topics", None)
    inbox.put("died", new)
    assert len(inbox) == 3  # one per (kind, socket): bounded
    got = [await inbox.get() for _ in range(3)]
    assert ("died", new) in got and ("closing", old) in got


async def test_get_waits_for_a_signal() -> None:
    inbox = Inbox()
    sock = _socket()
    with trio.move_on_after(0.05) as scope:
        await inbox.get()
    assert scope.cancelled_caught
    inbox.put("heartbeat", sock)
    assert await inbox.get() == ("heartbeat", sock)


def test_frames_of_followed_queues_are_applied_others_dropped_controls_counted() -> None:
    runtime = build_runtime(proxy_settings())

    async def feed() -> list[str]:
        lane = _lane(runtime)
        other = observation_body()
        other["group"]["queueId"] = "q-other"
        return [
            lane.feed(json.dumps({"topicName": "v2.analytics.queues.q-ok.observations",
                                  "eventBody": observation_body(NOW)})),
            lane.feed(json.dumps({"topicName": "v2.analytics.queues.q-other.observations", "eventBody": other})),
            lane.feed(json.dumps({"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}})),
            lane.feed(json.dumps({"topicName": "v2.users.x.presence", "eventBody": {}})),
            lane.feed(json.dumps({"topicName": "v2.analytics.queues.q-ok.observations",
                                  "eventBody": observation_body(LATER)})),
        ]

    assert trio.run(feed) == ["applied", "unfollowed", "control", "ignored", "applied"]
    assert "q-other" not in runtime.reducer
    metrics = runtime.metrics.render().decode()
    assert 'queuecast_upstream_frames_total{outcome="applied"} 2.0' in metrics
    assert 'queuecast_upstream_frames_total{outcome="unfollowed"} 1.0' in metrics


def test_frames_get_the_queue_name_and_division_discovery_found() -> None:
    runtime = build_runtime(proxy_settings())

    async def feed() -> str:
        lane = _lane(runtime, directory=QueueDirectory({"q-ok": "Billing Line"}, {"q-ok": "EMEA"}))
        return lane.feed(json.dumps({"topicName": "v2.analytics.queues.q-ok.observations",
                                     "eventBody": observation_body(NOW)}))

    assert trio.run(feed) == "applied"
    view = runtime.reducer.view("q-ok").body
    assert (view["name"], view["division"]) == ("Billing Line", "EMEA")
