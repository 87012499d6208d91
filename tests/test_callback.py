"""The callback endpoint over real HTTP: authentication, limits, validation, dedupe, staleness."""

import json
import math

import httpx
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.http.callback import handle_callback
from proxy.ingest.signature import sign
from proxy.runtime import build_runtime
from tests.conftest import proxy_settings
from tests.helpers import SECRET, envelope, post_callback, signed

CALLBACK = "/api/v1/event-stream/callback"


async def queues(client: httpx.AsyncClient) -> dict:
    return (await client.get("/api/v1/queues")).json()["queues"]


async def test_valid_signature_is_accepted_and_applied(client):
    r = await post_callback(client, envelope("q-billing", oWaiting=7, queueName="Billing"))
    assert r.status_code == 200 and r.json() == {"received": 1, "applied": 1}
    assert (await queues(client))["q-billing"]["waiting"] == 7


async def test_forged_or_missing_signature_is_refused(client):
    raw, headers = signed(envelope("q1", oWaiting=1))
    forged = {**headers, "X-Hub-Signature-256": sign(raw, "wrong-secret")}
    r = await client.post(CALLBACK, content=raw, headers=forged)
    assert r.status_code == 401 and r.json()["message"] == "bad X-Hub-Signature-256"
    r = await client.post(CALLBACK, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and "missing" in r.json()["message"]
    tampered = raw.replace(b'"oWaiting": 1', b'"oWaiting": 9')
    assert (await client.post(CALLBACK, content=tampered, headers=headers)).status_code == 401
    assert await queues(client) == {}
    assert SECRET not in r.text


async def test_api_key_header_authenticates_eventbridge_destinations(start_proxy):
    from proxy.settings import Secret

    p = await start_proxy(callback_secret=None, callback_api_key=Secret("k-123"), callback_api_key_header="X-Api-Key")
    async with httpx.AsyncClient(base_url=p.url) as c:
        body = json.dumps(envelope("q1", oWaiting=1))
        ok = await c.post(CALLBACK, content=body, headers={"X-Api-Key": "k-123", "Content-Type": "application/json"})
        bad = await c.post(CALLBACK, content=body, headers={"X-Api-Key": "nope", "Content-Type": "application/json"})
    assert (ok.status_code, bad.status_code) == (200, 401)


async def test_oversized_body_gets_413_before_authentication(start_proxy):
    p = await start_proxy(max_body_bytes=2048)
    async with httpx.AsyncClient(base_url=p.url) as c:
        r = await c.post(CALLBACK, content=b"[" + b" " * 4096 + b"]", headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "2048" in r.json()["message"]

        async def chunks():  # no Content-Length: the limit still holds while reading
            for _ in range(10):
                yield b" " * 1024

        r = await c.post(CALLBACK, content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413


async def test_non_json_content_type_gets_415(client):
    raw, headers = signed(envelope("q1"))
    r = await client.post(CALLBACK, content=raw, headers={**headers, "Content-Type": "text/plain"})
    assert r.status_code == 415


async def test_malformed_batch_gets_400_naming_the_field_and_applies_nothing(client):
    bad = envelope("q2", oWaiting=3)
    del bad["payload"]["queueState"]["mediaType"]
    r = await post_callback(client, [envelope("q1", oWaiting=1), bad])
    assert r.status_code == 400
    assert r.json()["field"] == "$[1].payload.queueState.mediaType"
    assert await queues(client) == {}
    # the service keeps serving: the good envelope alone is accepted afterwards
    assert (await post_callback(client, envelope("q1", oWaiting=1))).status_code == 200


async def test_duplicates_and_stale_events_do_not_change_the_view(client, proxy):
    first = envelope("q1", observed_ms=5000, oWaiting=5, event_id="evt-1")
    assert (await post_callback(client, first)).json()["applied"] == 1
    before = await queues(client)
    seq = proxy.runtime.broker.seq
    redelivery = {**first, "payload": {"queueState": {**first["payload"]["queueState"], "oWaiting": 99}}}
    r = await post_callback(client, redelivery)
    assert r.json() == {"received": 1, "duplicate": 1}
    r = await post_callback(client, envelope("q1", observed_ms=4000, oWaiting=42))
    assert r.json() == {"received": 1, "stale": 1}
    r = await post_callback(client, [envelope("q1", observed_ms=6000, oWaiting=6, event_id="evt-2"),
                                     envelope("q1", observed_ms=7000, oWaiting=60, event_id="evt-2")])
    assert r.json() == {"received": 2, "applied": 1, "duplicate": 1}  # dedupe within a batch too
    after = await queues(client)
    assert before["q1"]["waiting"] == 5 and after["q1"]["waiting"] == 6
    assert proxy.runtime.broker.seq == seq + 1


async def test_topics_outside_the_allowlist_are_acknowledged_and_counted(client):
    body = {"eventId": "x1", "topic": "v2.users.u1.presence", "timestamp": "2026-11-27T21:00:00Z", "payload": {}}
    r = await post_callback(client, body)
    assert r.status_code == 200 and r.json() == {"received": 1, "ignored": 1}
    metrics = (await client.get("/metrics")).text
    assert 'queuecast_events_total{outcome="ignored"} 1.0' in metrics


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(["eventId", "topic", "timestamp", "payload"])
state_fields = st.sampled_from(
    ["queueId", "mediaType", "observedAt", "oWaiting", "oLongestWaiting", "oUserRoutingStatuses", "interval"]
)


@st.composite
def malformed_bodies(draw) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=64))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    body = envelope("q-fuzz", oWaiting=1)
    if kind == 2:
        body[draw(fields)] = draw(json_values)
    else:
        body["payload"]["queueState"][draw(state_fields)] = draw(json_values)
    return json.dumps([envelope("q-ok", oWaiting=1), body] if draw(st.booleans()) else body).encode()


@settings(max_examples=300, deadline=None)
@given(raw=malformed_bodies())
def test_malformed_bodies_never_500_and_never_change_state(raw):
    """The callback handler itself (what the route calls), one trio run per example: a 400 or 200, never a crash."""
    runtime = build_runtime(proxy_settings())
    headers = {"x-hub-signature-256": sign(raw, SECRET), "content-type": "application/json"}

    async def handle():
        return handle_callback(runtime, raw, headers)

    status, body = trio.run(handle)
    assert status in (200, 400), body
    if status == 400:
        assert runtime.broker.seq == 0 and len(runtime.reducer) == 0
        assert runtime.aggregator.throttle.last == -math.inf


async def test_service_keeps_serving_after_a_burst_of_bad_input(client):
    for raw in (b"{", b"[]", b'{"eventId": 5}', b"\xff\xfe", json.dumps([1, 2]).encode()):
        r = await client.post(CALLBACK, content=raw, headers={"X-Hub-Signature-256": sign(raw, SECRET),
                                                              "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["field"].startswith("$")
    assert (await post_callback(client, envelope("q1", oWaiting=2))).status_code == 200
    assert (await queues(client))["q1"]["waiting"] == 2


async def test_a_late_redelivery_cannot_bring_a_deleted_queue_back(client, proxy):
    await post_callback(client, envelope("q-gone", observed_ms=1000, oWaiting=3))
    proxy.runtime.ingestor.remove_queue("q-gone")  # what rediscovery does when the platform deleted it
    r = await post_callback(client, envelope("q-gone", observed_ms=2000, oWaiting=4))
    assert r.json() == {"received": 1, "removed": 1}
    assert "q-gone" not in (await queues(client))
    proxy.runtime.ingestor.follow_queue("q-gone")  # listed again: followed again
    r = await post_callback(client, envelope("q-gone", observed_ms=3000, oWaiting=5))
    assert r.json()["applied"] == 1 and (await queues(client))["q-gone"]["waiting"] == 5
