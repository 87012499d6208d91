"""Push-only mode with platform credentials: the board is seeded over REST at start-up."""

from __future__ import annotations

import logging

import httpx
import pytest
import trio

from proxy.settings import Secret
from tests.conftest import StartProxy
from tests.e2e.conftest import StartSim, Views, wait_until
from tests.helpers import envelope, post_callback


async def test_a_push_only_proxy_with_credentials_starts_with_every_queue(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = await start_sim(speed=20.0, queues=4, agents=20, arrivals_per_min=120.0)
    async with httpx.AsyncClient(timeout=5) as http:
        await http.post(f"{sim.url}/sim/advance", json={"seconds": 120})  # a world with people waiting
        await http.post(f"{sim.url}/sim/pause")
        proxy = await start_proxy(api_base=sim.url, login_base=sim.url, client_id=sim.settings.client_id,
                                  client_secret=Secret(sim.settings.client_secret))
        assert proxy.runtime.settings.upstream == "callback"
        views = Views(http, proxy.url, sim.url)
        await wait_until(views.converged)  # every queue, names included, before any delivery arrived
        truth = await views.truth()
        assert len(truth) == 4 and all(v["name"] != qid for qid, v in truth.items())
        # deliveries still arrive by push, on top of the seeded state
        async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as client:
            queue_id = next(iter(truth))
            # a real-shaped instant message (only oWaiting changed), later than anything the seeding held
            body = {"group": {"queueId": queue_id, "mediaType": "voice"}, "data": [
                {"interval": "2099-01-01T00:00:00.000Z/2099-01-01T00:00:00.000Z",
                 "metrics": [{"metric": "oWaiting", "stats": {"count": 42}}]}]}
            topic = f"v2.analytics.queues.{queue_id}.observations"
            r = await post_callback(client, {"eventId": "pushed-1", "topic": topic,
                                             "timestamp": "2099-01-01T00:00:00Z", "payload": body})
            assert r.json()["applied"] == 1
            view = (await client.get("/api/v1/queues")).json()["queues"][queue_id]
            assert view["media"]["voice"]["waiting"] == 42 and view["name"] == truth[queue_id]["name"]


async def test_bad_credentials_stop_the_seeding_but_not_the_proxy(
    start_sim: StartSim, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sim = await start_sim(queues=2)
    proxy = await start_proxy(api_base=sim.url, login_base=sim.url, client_id=sim.settings.client_id,
                              client_secret=Secret("not-the-secret-xyz"))
    status = proxy.runtime.status
    with trio.fail_after(10):
        while status.sources().get("upstream") != ("degraded", "credentials"):  # noqa: ASYNC110  # upstream task
            await trio.sleep(0.05)
    assert "invalid_client" in status.last_detail and "upstream stopped" in status.last_detail
    assert "not-the-secret-xyz" not in caplog.text
    async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as client:
        r = await post_callback(client, envelope("q-pushed", oWaiting=1))
        assert r.status_code == 200
        # deliveries are live; the failed seeding keeps the board honest: degraded, for the credentials
        assert status.sources()["deliveries"] == ("live", "")
        assert (status.state, status.reason) == ("degraded", "credentials")

