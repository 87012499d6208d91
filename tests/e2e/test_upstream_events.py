"""What the upstream does about a misbehaving platform is counted (``Sinks.count_event`` →
``queuecast_upstream_events_total{event}``): a real Notifications upstream against the simulator,
hit by each fault of the control API in turn."""

from __future__ import annotations

import dataclasses
from collections import Counter

import httpx
import trio

from proxy.upstream.runner import run_upstream
from proxy.upstream.sinks import UpstreamEvent
from tests.conftest import StartProxy
from tests.e2e.conftest import StartSim, upstream_config, wait_until


async def test_each_platform_fault_is_counted_as_what_the_upstream_did(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = await start_sim(speed=20.0, queues=2, agents=10, heartbeat_s=0.2, notify_min_interval_s=0.05,
                           token_ttl_s=6)
    proxy = await start_proxy()
    events: Counter[UpstreamEvent] = Counter()
    sinks = dataclasses.replace(proxy.runtime.sinks(), count_event=lambda event: events.update([event]))
    config = upstream_config(sim.url, sim.settings, heartbeat_timeout_s=1.0, refresh_s=0.2)
    await nursery.start(run_upstream, sinks, config)

    async def counted(event: UpstreamEvent, at_least: int) -> None:
        async def enough() -> bool:
            return events[event] >= at_least
        await wait_until(enough, within_s=10)

    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as c:
        await counted("backfill", 1)
        assert events["reconnect"] == 0

        await c.post("/sim/sockets/closing", json={"graceS": 0.5 * sim.settings.speed})
        await counted("socket_replaced", 1)

        await c.post("/sim/channels/unsubscribe", json={})
        await counted("resubscribed", 1)

        await c.post("/sim/sockets/silence", json={})
        await counted("heartbeat_timeout", 1)
        await counted("reconnect", 1)

        await c.post("/sim/tokens/revoke")  # token_revoked on the socket, then the channel dies with it
        await counted("token_refresh", 2)
        await counted("backfill", events["backfill"] + 1)  # on a new channel

        await c.post("/sim/oauth/outage", json={"seconds": 1.0})
        await c.post("/sim/tokens/expire")  # no notice: the next call with it gets a 401, is retried
        await counted("token_refused", 1)
        await counted("token_refresh_failed", 1)  # while the token endpoint is down
        await counted("token_refresh", 3)

        await c.post("/sim/ratelimit/storm", json={"seconds": 3.0})
        await counted("rate_limited", 1)

        await counted("handover", 1)  # 6 s tokens are refreshed at half their life: the channel is handed over


async def test_the_runtime_counts_upstream_events_in_its_metrics(start_proxy: StartProxy) -> None:
    proxy = await start_proxy()
    proxy.runtime.sinks().count_event("socket_replaced")
    async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as c:
        text = (await c.get("/metrics")).text
    assert 'queuecast_upstream_events_total{event="socket_replaced"} 1.0' in text
