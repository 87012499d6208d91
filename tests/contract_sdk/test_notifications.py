"""Notification channels and the WebSocket, through the SDK and websocket-client.

Every frame the simulator sends is read through the SDK model of its topic: the observations
topic's ``eventBody`` as ``StatEventQueueTopicStatsNotification``, the heartbeat/pong as the
``channel.metadata`` body, system messages as ``SystemMessageSystemMessage``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import PureCloudPlatformClientV2 as sdk
import pytest
import websocket
from PureCloudPlatformClientV2.rest import ApiException

from .conftest import Sim, assert_lossless, deserialize, last_json

TOPIC_MODELS = {
    "v2.analytics.queues.{id}.observations": "StatEventQueueTopicStatsNotification",
    # the SDK's notificationMappings.json (MyPureCloud/platform-client-sdk-python @f80f2db)
    "v2.analytics.queues.{id}.activity": "V2QueueObservationObservationCountNotification",
    "v2.system.socket_closing": "SystemMessageSystemMessage",
    "v2.system.token_revoked.{id}": "SystemMessageSystemMessage",
}


def _topic(queue_id: str) -> str:
    return f"v2.analytics.queues.{queue_id}.observations"


def _frames(ws: websocket.WebSocket, *, want: int, within_s: float = 10.0) -> list[dict[str, Any]]:
    """Frames until ``want`` non-heartbeat ones arrived, or for ``within_s`` when ``want`` is 0."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and (not want or sum(f["topicName"] != "channel.metadata" for f in out) < want):
        ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            out.append(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            break
    return out


def _channel_topic(topic: str) -> sdk.ChannelTopic:
    entity = sdk.ChannelTopic()
    entity.id = topic
    return entity


def _model_of(topic: str) -> str | None:
    parts = topic.split(".")
    for template, model in TOPIC_MODELS.items():
        t = template.split(".")
        if len(t) == len(parts) and all(a == b or a == "{id}" for a, b in zip(t, parts, strict=True)):
            return model
    return None


def test_a_channel_is_created_with_connect_uri_and_24h_expiry(sim: Sim) -> None:
    client = sim.api_client()
    api = sdk.NotificationsApi(client)
    before = datetime.now(UTC)
    channel = api.post_notifications_channels()
    assert_lossless(client, last_json(client), channel)
    assert channel.connect_uri.endswith(f"/channels/{channel.id}")
    assert timedelta(hours=23, minutes=59) < channel.expires - before <= timedelta(hours=24, seconds=5)
    listing = api.get_notifications_channels()
    assert_lossless(client, last_json(client), listing)
    assert [c.id for c in listing.entities] == [channel.id]
    api.head_notifications_channel(channel.id)  # 200: no exception


def test_subscriptions_put_post_get_delete(sim: Sim) -> None:
    client = sim.api_client()
    api = sdk.NotificationsApi(client)
    channel = api.post_notifications_channels()
    q1, q2 = sim.queue_ids()[:2]
    put = api.put_notifications_channel_subscriptions(channel.id, [_channel_topic(_topic(q1))])
    assert_lossless(client, last_json(client), put)
    assert [(t.id, t.state) for t in put.entities] == [(_topic(q1), "Permitted")]
    api.post_notifications_channel_subscriptions(channel.id, [_channel_topic(_topic(q2))])
    got = api.get_notifications_channel_subscriptions(channel.id)
    assert_lossless(client, last_json(client), got)
    assert {t.id for t in got.entities} == {_topic(q1), _topic(q2)}
    rejected = api.put_notifications_channel_subscriptions(
        channel.id, [_channel_topic("v2.analytics.queues.nope.observations")], ignore_errors=True
    )
    assert_lossless(client, last_json(client), rejected)
    assert [t.state for t in rejected.entities] == ["Rejected"]
    api.delete_notifications_channel_subscriptions(channel.id)
    assert api.get_notifications_channel_subscriptions(channel.id).entities == []


def test_an_unknown_channel_is_a_404_error_body(sim: Sim) -> None:
    client = sim.api_client()
    with pytest.raises(ApiException) as info:
        sdk.NotificationsApi(client).get_notifications_channel_subscriptions("streaming-0-nope")
    assert info.value.status == 404
    body = json.loads(info.value.body)
    assert_lossless(client, body, deserialize(client, body, "ErrorBody"))


def test_the_21st_channel_evicts_the_oldest(sim: Sim) -> None:
    client = sim.api_client()
    api = sdk.NotificationsApi(client)
    ids = [api.post_notifications_channels().id for _ in range(21)]
    listing = api.get_notifications_channels(includechannels="oauthclient")
    assert len(listing.entities) == 20
    assert {c.id for c in listing.entities} == set(ids[1:])
    with pytest.raises(ApiException) as info:
        api.head_notifications_channel(ids[0])
    assert info.value.status == 404


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"agent_metric": "oOnQueueUsers", "routing_status_mode": "changed"},
        {"message_shape": "legacy"},
    ],
    ids=["real", "real-oOnQueueUsers-changed", "legacy"],
)
def test_websocket_pong_heartbeat_and_observation_frames_read_as_sdk_models(
    start_sim: Callable[..., Sim], shape: dict[str, str]
) -> None:
    sim = start_sim(heartbeat_s=0.3, **shape)
    client = sim.api_client()
    api = sdk.NotificationsApi(client)
    channel = api.post_notifications_channels()
    qids = sim.queue_ids()
    api.put_notifications_channel_subscriptions(channel.id, [_channel_topic(_topic(q)) for q in qids])
    ws = websocket.create_connection(channel.connect_uri, timeout=5)
    try:
        ws.send(json.dumps({"message": "ping"}))
        frames = _frames(ws, want=0, within_s=0.5)
        assert {"topicName": "channel.metadata", "eventBody": {"message": "pong"}} in frames
        assert {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}} in frames
        sim.advance(120)
        frames += _frames(ws, want=2 * len(qids))
    finally:
        ws.close()
    observed = [f for f in frames if f["topicName"] != "channel.metadata"]
    assert observed, "the world moved: observation frames arrive"
    for frame in frames:
        assert set(frame) <= {"topicName", "version", "eventBody", "metadata"}
        if frame["topicName"] == "channel.metadata":
            assert set(frame["eventBody"]) == {"message"}
            continue
        model = _model_of(frame["topicName"])
        assert model is not None, f"a frame on a topic without an SDK model: {frame['topicName']}"
        body = deserialize(client, frame["eventBody"], model)
        assert_lossless(client, frame["eventBody"], body)
        assert body.group["queueId"] in qids
        for data in body.data:
            start, end = data.interval.split("/")
            assert start <= end
            assert all(m.metric and m.stats for m in data.metrics)


def test_activity_frames_read_as_the_sdks_count_notification(sim: Sim) -> None:
    client = sim.api_client()
    api = sdk.NotificationsApi(client)
    channel = api.post_notifications_channels()
    qids = sim.queue_ids()
    topics = [f"v2.analytics.queues.{q}.activity" for q in qids]
    put = api.put_notifications_channel_subscriptions(channel.id, [_channel_topic(t) for t in topics])
    assert [(t.id, t.state) for t in put.entities] == [(t, "Permitted") for t in topics]
    ws = websocket.create_connection(channel.connect_uri, timeout=5)
    try:
        sim.advance(120)
        frames = [f for f in _frames(ws, want=len(qids)) if f["topicName"] != "channel.metadata"]
    finally:
        ws.close()
    assert {f["topicName"] for f in frames} == set(topics), "every queue's counts changed in two minutes"
    truth = sim.truth()["queues"]
    for frame in frames:
        model = _model_of(frame["topicName"])
        assert model == "V2QueueObservationObservationCountNotification"
        body = deserialize(client, frame["eventBody"], model)
        assert_lossless(client, frame["eventBody"], body)
        qid = frame["topicName"].split(".")[3]
        assert {r.media_type for r in body.results} == set(truth[qid]["media"])
        for result in body.results:
            by = {d.metric: d for d in result.data}
            assert set(by) == {"oWaiting", "oInteracting", "oAlerting", "oLongestWaiting"}
            assert by["oLongestWaiting"].count == by["oWaiting"].count
            assert (by["oLongestWaiting"].calculated_metric_value is None) == (by["oWaiting"].count == 0)


def test_socket_closing_and_token_revoked_read_as_system_messages(sim: Sim) -> None:
    client = sim.api_client()
    channel = sdk.NotificationsApi(client).post_notifications_channels()
    ws = websocket.create_connection(channel.connect_uri, timeout=5)
    try:
        assert sim.control.post("/sim/sockets/closing", json={"graceS": 30}).status_code == 200
        assert sim.control.post("/sim/tokens/revoke").status_code == 200
        frames = _frames(ws, want=2, within_s=5)
    finally:
        ws.close()
    topics = [f["topicName"] for f in frames if f["topicName"] != "channel.metadata"]
    assert topics == ["v2.system.socket_closing", f"v2.system.token_revoked.{channel.id}"]
    for frame in frames:
        if frame["topicName"] == "channel.metadata":
            continue
        model = _model_of(frame["topicName"])
        assert model == "SystemMessageSystemMessage"
        assert_lossless(client, frame["eventBody"], deserialize(client, frame["eventBody"], model))
