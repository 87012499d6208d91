"""Event Bus mode: the proxy provisions its own subscription on the simulator and converges to the truth."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from proxy.settings import Secret
from proxy.upstream.eventbus import EventBusUpstream
from proxy.upstream.runner import run_upstream
from tests.conftest import StartProxy
from tests.e2e.conftest import StartSim, Views, start_upstream, upstream_config, wait_until
from tests.helpers import SECRET


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def _subscriptions(views: Views) -> int:
    return int((await views.stats())["subscriptions"])


async def test_proxy_provisions_one_subscription_and_converges_to_truth(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    sim = await start_sim(speed=20.0, queues=3, agents=20)
    proxy = await start_proxy()
    config = upstream_config(sim.url, sim.settings, mode="eventbus", public_url=proxy.url,
                             callback_secret=Secret(SECRET), eventbus_check_s=0.2)
    ctx = await start_upstream(nursery, proxy, config)
    views = Views(http, proxy.url, sim.url)
    await wait_until(lambda: _is(proxy.runtime.status.state, "live"))
    await trio.sleep(0.5)  # signed deliveries flow into the callback
    assert (await views.stats())["deliveries"] >= 1
    await views.sim("POST", "/sim/pause")
    await wait_until(views.converged)
    # a second proxy instance with the same public URL finds the subscription instead of adding one
    ctx2 = await start_upstream(nursery, proxy, config)
    await wait_until(lambda: _is(getattr(ctx2.component, "subscription_id", None) is not None, True))
    assert isinstance(ctx.component, EventBusUpstream) and isinstance(ctx2.component, EventBusUpstream)
    assert ctx2.component.created == 0 and ctx2.component.subscription_id == ctx.component.subscription_id
    assert await _subscriptions(views) == 1


async def test_vanished_subscription_is_recreated_and_backfilled(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    sim = await start_sim(speed=20.0, queues=2, agents=10)
    proxy = await start_proxy()
    ctx = await start_upstream(nursery, proxy, upstream_config(
        sim.url, sim.settings, mode="eventbus", public_url=proxy.url, callback_secret=Secret(SECRET),
        eventbus_check_s=0.2))
    views = Views(http, proxy.url, sim.url)
    comp = ctx.component
    assert isinstance(comp, EventBusUpstream)
    await wait_until(lambda: _is(comp.created, 1))
    first = comp.subscription_id
    await ctx.platform.delete_event_subscription(first or "")  # someone removes it behind our back
    await wait_until(lambda: _is(comp.created, 2))
    assert comp.subscription_id != first and await _subscriptions(views) == 1
    await views.sim("POST", "/sim/pause")
    await wait_until(views.converged)


async def test_subscription_is_deleted_on_clean_shutdown_when_configured(
    start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    sim = await start_sim(queues=2, agents=10)
    proxy = await start_proxy()
    views = Views(http, proxy.url, sim.url)
    config = upstream_config(sim.url, sim.settings, mode="eventbus", public_url=proxy.url,
                             callback_secret=Secret(SECRET), eventbus_cleanup=True)
    async with trio.open_nursery() as nursery:
        ctx = await nursery.start(run_upstream, proxy.runtime.sinks(), config)
        await wait_until(lambda: _is(getattr(ctx.component, "created", 0), 1))
        assert await _subscriptions(views) == 1
        nursery.cancel_scope.cancel()
    assert await _subscriptions(views) == 0


async def _is(value: object, expected: object) -> bool:
    return value == expected
