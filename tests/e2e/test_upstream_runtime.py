"""The upstream as the proxy runs it: ``QC_UPSTREAM=notifications`` settings, started by ``Runtime.serve``."""

from __future__ import annotations

import httpx
import trio

from proxy.auth.token import TokenManager
from proxy.settings import Secret
from tests.conftest import StartProxy
from tests.e2e.conftest import StartSim, Views, wait_until


async def test_notifications_mode_from_settings_serves_the_truth(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = await start_sim(speed=20.0, queues=2, agents=10, notify_min_interval_s=0.05)
    proxy = await start_proxy(upstream="notifications", api_base=sim.url, login_base=sim.url,
                              client_id=sim.settings.client_id, client_secret=Secret(sim.settings.client_secret),
                              heartbeat_timeout_s=5.0)
    async with httpx.AsyncClient(timeout=5) as http:
        views = Views(http, proxy.url, sim.url)

        async def live() -> bool:
            return proxy.runtime.status.state == "live"

        await wait_until(live)
        await views.sim("POST", "/sim/pause")
        await wait_until(views.converged)


async def test_hundred_concurrent_callers_cause_one_token_request_at_the_simulator(start_sim: StartSim) -> None:
    sim = await start_sim(queues=1, agents=2)
    async with httpx.AsyncClient(timeout=5) as http:
        tokens = TokenManager(http=http, token_url=f"{sim.url}/oauth/token", client_id=sim.settings.client_id,
                              client_secret=Secret(sim.settings.client_secret))
        values: set[str] = set()

        async def caller() -> None:
            values.add((await tokens.token()).value)

        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(caller)
        stats = (await http.get(f"{sim.url}/sim/stats")).json()
    assert len(values) == 1 and stats["tokens_issued"] == 1
