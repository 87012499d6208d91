"""A lane step that switches sockets and then fails keeps following the new socket. Found by
``queuecast chaos`` (seed 3, notifications): ``socket_closing`` arrived while the Platform API
answered 503, so the backfill after the replacement failed; the supervisor kept the retired socket as
its current one and ignored every signal of the new one — its death included — and retried a topic
change on a channel that no longer existed for minutes, while no frame arrived."""

from __future__ import annotations

import httpx
import trio

from tests.conftest import StartProxy
from tests.e2e.conftest import StartSim, Views, start_upstream, upstream_config, wait_until


async def test_a_failed_backfill_after_a_socket_replacement_does_not_lose_the_new_socket(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = await start_sim(speed=20.0, queues=2, agents=10, notify_min_interval_s=0.05)
    proxy = await start_proxy()
    ctx = await start_upstream(nursery, proxy, upstream_config(sim.url, sim.settings, refresh_s=0))
    async with httpx.AsyncClient(timeout=5) as http:
        views = Views(http, proxy.url, sim.url)

        async def lane_live() -> bool:
            lanes = getattr(ctx.component, "lanes", [])
            return bool(lanes) and lanes[0].stats.backfills >= 1 and proxy.runtime.status.state == "live"

        await wait_until(lane_live)
        lane = ctx.component.lanes[0]
        await views.sim("PUT", "/sim/faults", json={"platformErrorProbability": 1.0})
        await views.sim("POST", "/sim/sockets/closing", json={"graceS": 0.2 * sim.settings.speed})

        async def replaced() -> bool:
            return lane.stats.sockets_opened >= 2 and (await views.stats())["sockets_replaced"] >= 1

        await wait_until(replaced)
        await trio.sleep(0.3)  # the backfill after the replacement fails (503)
        await views.sim("DELETE", "/sim/faults")
        # the channel goes away: the new socket closes, and the lane must notice it and reconnect
        await views.sim("POST", "/sim/channels/unsubscribe", json={"gone": True})

        async def reconnected() -> bool:
            return lane.stats.reconnects >= 1 and (await views.stats())["sockets"] == 1

        await wait_until(reconnected, within_s=10)
        await views.sim("POST", "/sim/pause")
        await wait_until(views.converged, within_s=10)
