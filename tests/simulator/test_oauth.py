"""OAuth client credentials, token checks on every API call, rate limits, token-endpoint outage."""

from __future__ import annotations

import trio

from simulator.ratelimit import RateLimiter

from .conftest import Sim, StartSim

GRANT = {"grant_type": "client_credentials"}


async def test_valid_basic_credentials_get_a_bearer_token_with_the_configured_lifetime(start_sim: StartSim) -> None:
    sim = await start_sim(token_ttl_s=600)
    r = await sim.client.post("/oauth/token", auth=("queuecast-demo", "queuecast-demo-secret"), data=GRANT)
    assert r.status_code == 200
    assert r.json()["expires_in"] == 600 and r.json()["token_type"] == "bearer"


async def test_bad_credentials_get_invalid_client(sim: Sim) -> None:
    for auth in (("queuecast-demo", "wrong"), ("other", "queuecast-demo-secret")):
        r = await sim.client.post("/oauth/token", auth=auth, data=GRANT)
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = await sim.client.post(
        "/oauth/token", data={**GRANT, "client_id": "queuecast-demo", "client_secret": "queuecast-demo-secret"}
    )
    assert r.status_code == 401, "credentials in the form body are not accepted (Basic header only)"
    assert (await sim.stats())["invalid_client"] == 3


async def test_wrong_grant_type_is_refused(sim: Sim) -> None:
    r = await sim.client.post(
        "/oauth/token", auth=("queuecast-demo", "queuecast-demo-secret"), data={"grant_type": "password"}
    )
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


async def test_missing_or_unknown_token_is_401_bad_credentials(sim: Sim) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = await sim.client.get("/api/v2/routing/queues", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "bad.credentials"


async def test_expired_token_is_refused_and_a_new_one_works(sim: Sim) -> None:
    h = await sim.auth()
    assert (await sim.client.get("/api/v2/routing/queues", headers=h)).status_code == 200
    assert (await sim.client.post("/sim/tokens/expire")).json() == {"expired": 1}
    r = await sim.client.get("/api/v2/routing/queues", headers=h)
    assert r.status_code == 401 and r.json()["code"] == "bad.credentials"
    assert (await sim.client.get("/api/v2/routing/queues", headers=await sim.auth())).status_code == 200


async def test_token_lifetime_is_enforced_in_real_time(start_sim: StartSim) -> None:
    sim = await start_sim(token_ttl_s=1)
    h = await sim.auth()
    assert (await sim.client.get("/api/v2/routing/queues", headers=h)).status_code == 200
    await trio.sleep(1.05)
    assert (await sim.client.get("/api/v2/routing/queues", headers=h)).status_code == 401


async def test_revoked_tokens_are_refused(sim: Sim) -> None:
    h = await sim.auth()
    assert (await sim.client.post("/sim/tokens/revoke")).json() == {"revoked": 1}
    assert (await sim.client.get("/api/v2/routing/queues", headers=h)).status_code == 401
    assert (await sim.stats())["responses_401"] == 1


async def test_token_endpoint_outage_answers_503_then_recovers(sim: Sim) -> None:
    await sim.client.post("/sim/oauth/outage", json={"seconds": 0.3})
    r = await sim.client.post("/oauth/token", auth=("queuecast-demo", "queuecast-demo-secret"), data=GRANT)
    assert r.status_code == 503 and "retry-after" in r.headers
    await trio.sleep(0.35)
    assert await sim.token()
    assert (await sim.stats())["token_503s"] == 1


async def test_requests_beyond_the_limit_get_429_with_retry_after_and_inin_headers(start_sim: StartSim) -> None:
    sim = await start_sim(rate_limit_per_min=3)
    h = await sim.auth()
    for i in range(1, 4):
        r = await sim.client.get("/api/v2/routing/queues", headers=h)
        assert r.status_code == 200
        assert r.headers["inin-ratelimit-count"] == str(i) and r.headers["inin-ratelimit-allowed"] == "3"
    r = await sim.client.get("/api/v2/routing/queues", headers=h)
    assert r.status_code == 429 and r.json()["code"] == "too.many.requests.retry.after"
    assert 1 <= int(r.headers["Retry-After"]) <= 60 and r.headers["inin-ratelimit-reset"] == r.headers["Retry-After"]
    assert (await sim.client.get("/api/v2/routing/queues", headers=await sim.auth())).status_code == 200, (
        "the limit is per token"
    )
    assert (await sim.stats())["responses_429"] == 1


def test_rate_limit_window_resets() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, window_s=60, clock=lambda: now[0])
    assert [limiter.hit("t").allowed for _ in range(3)] == [True, True, False]
    now[0] = 30.0
    assert limiter.hit("t").reset_s == 30
    now[0] = 60.0
    assert limiter.hit("t").allowed
