"""Viewer access control over real HTTP (a real proxy on loopback, httpx): 401 without a valid token, CORS
intact; with one, the API, the snapshot, the deltas and the resumed deltas show only the token's queues,
whatever ``?queues=`` asks; a token expiring mid-stream ends the stream at its ``exp``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import trio

from proxy.auth.viewer import ViewerGate
from proxy.settings import Secret
from tests.conftest import RunningProxy, StartProxy
from tests.helpers import envelope, open_stream, post_callback

KEY = "viewer-key-" + "v" * 32
ORIGIN = "https://wall.example.com"
GATE = ViewerGate(Secret(KEY))


@pytest.fixture
async def guarded(start_proxy: StartProxy) -> RunningProxy:
    return await start_proxy(viewer_jwt_secret=Secret(KEY), cors_origins=(ORIGIN,), keepalive_s=0.2)


@pytest.fixture
async def http(guarded: RunningProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded.url, timeout=httpx.Timeout(5, read=None)) as c:
        yield c


async def _seed(http: httpx.AsyncClient, proxy: RunningProxy, *queues: str) -> None:
    for n, q in enumerate(queues, start=1):
        assert (await post_callback(http, envelope(q, oWaiting=n))).status_code == 200
    with trio.fail_after(5):
        while set(proxy.runtime.broker.snapshot().views) != set(queues):  # noqa: ASYNC110
            await trio.sleep(0.01)


def _assert_refused(r: httpx.Response, reason: str) -> None:
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = r.json()
    assert body["error"] == "unauthorized" and reason in body["message"]


@pytest.mark.parametrize("path", ["/api/v1/queues", "/dashboard-stream"])
async def test_without_a_valid_token_the_answer_is_401_json_with_cors(http: httpx.AsyncClient, path: str) -> None:
    origin = {"Origin": ORIGIN}
    _assert_refused(await http.get(path, headers=origin), "missing access token")
    expired = jwt.encode({"queues": ["*"], "exp": int(time.time()) - 5}, KEY, algorithm="HS256")
    _assert_refused(await http.get(path, headers=origin, params={"access_token": expired}), "expired")
    forged = jwt.encode({"queues": ["*"], "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256")
    _assert_refused(await http.get(path, headers={**origin, "Authorization": f"Bearer {forged}"}), "signature")
    unsigned = jwt.encode({"queues": ["*"], "exp": int(time.time()) + 60}, None, algorithm="none")
    _assert_refused(await http.get(path, headers={**origin, "Cookie": f"qc_viewer={unsigned}"}), "HS256")
    # the proxy keeps serving the others
    token = GATE.issue(["*"], ttl_s=60)
    assert (await http.get("/api/v1/queues", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_a_preflight_may_carry_authorization(http: httpx.AsyncClient) -> None:
    r = await http.options("/api/v1/queues", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 204 and "Authorization" in r.headers["access-control-allow-headers"]


async def test_the_api_shows_only_the_token_queues_from_each_source(http: httpx.AsyncClient,
                                                                    guarded: RunningProxy) -> None:
    await _seed(http, guarded, "q-a", "q-b", "q-c")
    token = GATE.issue(["q-a", "q-c", "q-gone"], ttl_s=60)
    for kwargs in ({"headers": {"Authorization": f"Bearer {token}"}},
                   {"params": {"access_token": token, "queues": "q-b"}},
                   {"headers": {"Cookie": f"theme=dark; qc_viewer={token}"}}):
        r = await http.get("/api/v1/queues", **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 200 and set(r.json()["queues"]) == {"q-a", "q-c"}
    everything = GATE.issue(["*"], ttl_s=60)
    r = await http.get("/api/v1/queues", params={"access_token": everything})
    assert set(r.json()["queues"]) == {"q-a", "q-b", "q-c"}


async def test_snapshot_deltas_and_resume_show_only_the_token_queues(http: httpx.AsyncClient,
                                                                      guarded: RunningProxy) -> None:
    await _seed(http, guarded, "q-a", "q-b", "q-c")
    token = GATE.issue(["q-a", "q-b"], ttl_s=60)
    # ?queues= asks for q-b and q-c: the token allows q-b only
    params = {"access_token": token, "queues": "q-b,q-c"}
    async with open_stream(http, params=params) as (response, reader):
        assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
        event, snapshot = await reader.next_json()
        assert event.event == "snapshot" and set(snapshot["queues"]) == {"q-b"}
        await post_callback(http, envelope("q-c", oWaiting=9))  # asked for, not allowed
        await post_callback(http, envelope("q-a", oWaiting=9))  # allowed, not asked for
        await post_callback(http, envelope("q-b", oWaiting=7))
        event, delta = await reader.next_json()
        assert event.event == "delta" and set(delta["queues"]) == {"q-b"} and delta["queues"]["q-b"]["waiting"] == 7
        last_id = event.id
    # missed while away: q-c (not allowed), q-a (allowed), q-b (allowed)
    for q in ("q-c", "q-a", "q-b"):
        await post_callback(http, envelope(q, oWaiting=20))
    with trio.fail_after(5):
        while guarded.runtime.broker.seq < int(last_id.rpartition("-")[2]) + 1:  # noqa: ASYNC110
            await trio.sleep(0.01)
    seen: dict[str, int] = {}
    async with open_stream(http, params={"access_token": token}, headers={"Last-Event-ID": last_id}) as (_, reader):
        with trio.move_on_after(1):
            while True:
                event, data = await reader.next_json()
                assert event.event == "delta", "a known id resumes with deltas"
                assert set(data["queues"]) <= {"q-a", "q-b"}
                seen.update({q: v["waiting"] for q, v in data["queues"].items()})
    assert seen == {"q-a": 20, "q-b": 20}


async def test_a_token_expiring_mid_stream_ends_the_stream_at_its_exp(http: httpx.AsyncClient,
                                                                      guarded: RunningProxy) -> None:
    exp = int(time.time()) + 2
    token = jwt.encode({"queues": ["*"], "exp": exp}, KEY, algorithm="HS256")
    body = b""
    async with http.stream("GET", "/dashboard-stream", params={"access_token": token}) as r:
        assert r.status_code == 200
        with trio.fail_after(exp - time.time() + 3):
            async for chunk in r.aiter_bytes():  # a clean end of the chunked body, not a cut connection
                body += chunk
        ended = time.time()
    assert b"event: snapshot" in body
    assert exp - 0.05 <= ended <= exp + 1.5
    metrics = (await http.get("/metrics")).text
    assert 'queuecast_sse_disconnects_total{reason="expired"} 1.0' in metrics
    # and a reconnect with the same token is refused
    r2 = await http.get("/dashboard-stream", params={"access_token": token})
    assert r2.status_code == 401 and "expired" in r2.json()["message"]

