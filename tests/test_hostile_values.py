"""Well-formed envelopes and frames carrying hostile values: a clear 400 or a dropped frame, never a crash.

Each case puts one hostile value (huge, negative, fractional, wrong type, far-future or far-past
time, time without zone, garbage) at one place of an otherwise valid observation body, delivered
through the callback (Event Bus and EventBridge envelopes) and through a Notifications lane fed
directly. Afterwards a valid event must still be applied.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.http.callback import handle_callback
from proxy.ingest.signature import sign
from proxy.runtime import Runtime, build_runtime
from proxy.settings import Secret
from proxy.upstream.context import UpstreamConfig, UpstreamContext
from proxy.upstream.lane import Lane
from proxy.upstream.platform import Platform, QueueDirectory
from tests.conftest import StartProxy, proxy_settings
from tests.helpers import SECRET, open_stream, post_callback

NOW = "2026-11-30T09:46:54.839Z"
LATER = "2026-11-30T09:46:55.001Z"

hostile_numbers = st.one_of(
    st.sampled_from([1e300, -1e300, 1e15, -1, -0.5, 0.5, 2**64, -(2**63), 10**30, 1e-300, 4102444800001]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(),
)
hostile_other = st.one_of(
    st.sampled_from(["NaN", "Infinity", "", "1e300", None, True, False, [], {}, [1], {"count": 1}]),
    st.text(max_size=8),
)
hostile_times = st.sampled_from([
    "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-11-30T09:46:54",
    "2026-13-45T99:00:00Z", "yesterday", "", "2026-11-30T09:46:54.839Z/", "+275760-09-13T00:00:00Z",
])
hostile = st.one_of(hostile_numbers, hostile_other, hostile_times)


def observation_body(at: str = NOW) -> dict[str, Any]:
    """A valid ``.observations`` body for ``q-ok``: an instant part at ``at`` and an interval part."""
    return {
        "group": {"queueId": "q-ok", "mediaType": "voice"},
        "data": [
            {"interval": f"{at}/{at}", "metrics": [
                {"metric": "oWaiting", "stats": {"count": 2}},
                {"metric": "oInteracting", "stats": {"count": 1}},
                {"metric": "oLongestWaiting", "stats": {"count": 2, "calculatedMetricValue": 1796024800000}},
                {"metric": "oUserRoutingStatuses", "qualifier": "IDLE", "stats": {"count": 3}},
            ]},
            {"interval": "2026-11-30T09:30:00.000Z/2026-11-30T10:00:00.000Z", "metrics": [
                {"metric": "nOffered", "stats": {"count": 5}},
                {"metric": "tAnswered", "stats": {"count": 4, "sum": 40000}},
                {"metric": "tHandle", "stats": {"count": 3, "sum": 90000}},
                {"metric": "oServiceLevel", "stats": {"numerator": 3, "denominator": 4, "target": 0.8}},
            ]},
        ],
    }


def spoil(body: dict[str, Any], where: int, value: Any) -> dict[str, Any]:
    """Put ``value`` at one of the body's value positions (``where`` picks it)."""
    spots: list[tuple[Any, Any]] = [(body["group"], "queueId"), (body["group"], "mediaType")]
    for data in body["data"]:
        spots.append((data, "interval"))
        for metric in data["metrics"]:
            spots.append((metric, "metric"))
            spots.extend((metric["stats"], key) for key in metric["stats"])
    target, key = spots[where % len(spots)]
    target[key] = value
    return body


def eventbus(body: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"eventId": f"e-{n}", "topic": "v2.analytics.queues.q-ok.observations", "timestamp": NOW,
            "payload": body}


def eventbridge(body: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"version": "0", "id": f"eb-{n}", "detail-type": "v2.analytics.queues.{id}.observations",
            "source": "aws.partner/genesys.com", "time": "2026-11-30T09:46:54Z",
            "detail": {"topicName": "v2.analytics.queues.q-ok.observations", "eventBody": body}}


def _post(runtime: Runtime, payload: Any) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(payload).encode()
    headers = {"x-hub-signature-256": sign(raw, SECRET), "content-type": "application/json"}

    async def handle() -> tuple[int, bytes]:
        return handle_callback(runtime, raw, headers)

    status, body = trio.run(handle)
    return status, json.loads(body)


@settings(max_examples=300, deadline=None)
@given(where=st.integers(min_value=0, max_value=200), value=hostile, bridge=st.booleans())
def test_a_hostile_value_in_a_callback_is_a_400_naming_the_field_or_applied(where: int, value: Any,
                                                                            bridge: bool) -> None:
    runtime = build_runtime(proxy_settings())
    wrap = eventbridge if bridge else eventbus
    status, answer = _post(runtime, wrap(spoil(observation_body(), where, value)))
    assert status in (200, 400), answer
    if status == 400:
        assert answer["field"].startswith("$") and answer["message"]
        assert len(runtime.reducer) == 0  # nothing applied
    status, answer = _post(runtime, wrap(observation_body(LATER), n=2))
    assert status == 200 and answer.get("applied") == 1, answer  # the next valid event still lands
    assert runtime.reducer.view("q-ok").body["media"]["voice"]["waiting"] == 2


@settings(max_examples=300, deadline=None)
@given(where=st.integers(min_value=0, max_value=200), value=hostile)
def test_a_hostile_value_in_a_frame_is_dropped_and_counted_by_the_lane(where: int, value: Any) -> None:
    runtime = build_runtime(proxy_settings())

    async def feed() -> tuple[str, str]:
        lane = _lane(runtime)
        bad = lane.feed(json.dumps({"topicName": "v2.analytics.queues.q-ok.observations",
                                    "eventBody": spoil(observation_body(), where, value)}))
        good = lane.feed(json.dumps({"topicName": "v2.analytics.queues.q-ok.observations",
                                     "eventBody": observation_body(LATER)}))
        return bad, good

    bad, good = trio.run(feed)
    assert bad in ("invalid", "applied", "unfollowed")
    assert good == "applied"
    assert runtime.reducer.view("q-ok").body["media"]["voice"]["waiting"] == 2
    if bad == "invalid":
        assert 'queuecast_upstream_frames_total{outcome="invalid"} 1.0' in runtime.metrics.render().decode()


def test_garbage_frames_are_invalid_not_fatal() -> None:
    runtime = build_runtime(proxy_settings())

    async def feed() -> list[str]:
        lane = _lane(runtime)
        return [lane.feed(raw) for raw in (b"\xff", "{", "[]", '{"topicName": 5}', '"x"', "null",
                                           '{"topicName": "v2.analytics.queues.q-ok.observations"}')]

    assert trio.run(feed) == ["invalid"] * 7


async def test_after_hostile_input_the_proxy_still_streams_and_stays_ready(start_proxy: StartProxy) -> None:
    proxy = await start_proxy()
    async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(5, read=None)) as client:
        async with open_stream(client) as (_, reader):
            await reader.next()  # the snapshot
            for n, value in enumerate((1e300, 1e15, -1, "NaN", "9999-12-31T23:59:59Z", [5])):
                body = spoil(observation_body(), 9, value)  # oLongestWaiting's calculatedMetricValue
                r = await post_callback(client, eventbus(body, n=100 + n))
                assert r.status_code == 400, r.text
                assert r.json()["field"] == "$.payload.data[0].metrics[2].stats.calculatedMetricValue"
            assert (await post_callback(client, eventbus(observation_body(), n=1))).status_code == 200
            _, frame = await reader.next_json()
            assert frame["queues"]["q-ok"]["waiting"] == 2
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert proxy.runtime.supervisor.restarts == {}  # nothing crashed


def _lane(runtime: Runtime, queue_id: str = "q-ok", *, directory: QueueDirectory | None = None) -> Lane:
    """A lane following ``queue_id`` whose frames are fed directly (no platform is ever called);
    ``directory`` is what discovery found (names and divisions)."""
    settings = proxy_settings(api_base="http://127.0.0.1:9", login_base="http://127.0.0.1:9", client_id="c",
                              client_secret=Secret("s"))
    ctx = UpstreamContext(sinks=runtime.sinks(), config=UpstreamConfig(mode="notifications", settings=settings),
                          platform=Platform(httpx.AsyncClient()), tokens=None,  # type: ignore[arg-type]
                          cancel_scope=trio.CancelScope())
    return Lane(ctx, name="channel 1", queue_ids=[queue_id], directory=directory or QueueDirectory())

