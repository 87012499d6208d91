"""QC_CALLBACK_SECRET rotation against the simulator's Event Bus: the restarted proxy puts its new secret on
the subscription it finds (the platform cannot read a secret back, so matching by URL, description and
topics alone left every delivery a 401 forever), and QC_CALLBACK_SECRET_PREVIOUS keeps deliveries
signed with the old secret landing during the switch."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from proxy.settings import Secret
from proxy.upstream.context import UpstreamContext
from proxy.upstream.eventbus import EventBusUpstream
from proxy.upstream.runner import run_upstream
from tests.conftest import RunningProxy, StartProxy
from tests.e2e.conftest import StartSim, Views, upstream_config, wait_until
from tests.helpers import envelope, signed

OLD = "old-callback-secret-0123456789"
NEW = "new-callback-secret-9876543210"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # no keep-alive: the proxy restarts on the same port, and a pooled connection to the old one is dead
    async with httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


async def _callbacks(http: httpx.AsyncClient, proxy: RunningProxy, status: int) -> int:
    text = (await http.get(f"{proxy.url}/metrics")).text
    found = re.search(rf'^queuecast_callbacks_total\{{status="{status}"\}} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


async def test_the_previous_secret_is_accepted_beside_the_current_one(start_proxy: StartProxy,
                                                                      http: httpx.AsyncClient) -> None:
    rotating = await start_proxy(callback_secret=Secret(NEW), callback_secret_previous=Secret(OLD))
    plain = await start_proxy(callback_secret=Secret(NEW))
    for n, (proxy, secret, status) in enumerate([(rotating, NEW, 200), (rotating, OLD, 200),
                                                 (rotating, "someone-else", 401), (plain, NEW, 200),
                                                 (plain, OLD, 401)]):
        raw, headers = signed(envelope("q1", oWaiting=n), secret)
        r = await http.post(f"{proxy.url}/api/v1/event-stream/callback", content=raw, headers=headers)
        assert r.status_code == status, (secret, r.text)
        assert secret not in r.text


async def _start_upstream(nursery: trio.Nursery, proxy: RunningProxy, config: object
                          ) -> tuple[UpstreamContext, trio.CancelScope]:
    scope = trio.CancelScope()

    async def run(*, task_status: trio.TaskStatus[UpstreamContext]) -> None:
        with scope:
            async with trio.open_nursery() as inner:
                task_status.started(await inner.start(run_upstream, proxy.runtime.sinks(), config))

    ctx: UpstreamContext = await nursery.start(run)
    return ctx, scope


async def _restart_on(start_proxy: StartProxy, port: int, **settings: object) -> RunningProxy:
    with trio.fail_after(10):
        while True:
            try:
                return await start_proxy(port=port, **settings)
            except OSError:  # the old listener is still closing
                await trio.sleep(0.1)


@pytest.mark.parametrize("previous", [True, False], ids=["with-previous", "without-previous"])
async def test_after_a_rotation_the_subscription_is_updated_and_deliveries_keep_landing(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient, previous: bool
) -> None:
    sim = await start_sim(speed=20.0, queues=3, agents=20)
    first = await start_proxy(callback_secret=Secret(OLD))
    port = int(first.url.rpartition(":")[2])
    tuning = {"mode": "eventbus", "public_url": first.url, "eventbus_check_s": 0.2}
    ctx, scope = await _start_upstream(nursery, first, upstream_config(
        sim.url, sim.settings, callback_secret=Secret(OLD), **tuning))  # type: ignore[arg-type]
    await wait_until(lambda: _positive(_callbacks(http, first, 200)))
    component = ctx.component
    assert isinstance(component, EventBusUpstream) and component.created == 1
    subscription = component.subscription_id

    # the rotation: the process restarts with the new secret (and, in the window, the old one as previous)
    scope.cancel()
    first.stop.set()
    rotated = {"callback_secret": Secret(NEW), **({"callback_secret_previous": Secret(OLD)} if previous else {})}
    second = await _restart_on(start_proxy, port, **rotated)
    assert second.url == first.url
    ctx2, _ = await _start_upstream(nursery, second, upstream_config(
        sim.url, sim.settings, **rotated, **tuning))  # type: ignore[arg-type]
    component2 = ctx2.component
    assert isinstance(component2, EventBusUpstream)
    await wait_until(lambda: _true(component2.updated == 1))
    assert component2.created == 0 and component2.subscription_id == subscription
    views = Views(http, second.url, sim.url)
    assert (await views.stats())["subscriptions"] == 1
    landed = await _callbacks(http, second, 200)
    await wait_until(lambda: _above(_callbacks(http, second, 200), landed + 5), within_s=15)
    if previous:
        assert await _callbacks(http, second, 401) == 0, "signed with the old secret: accepted in the window"
    await views.sim("POST", "/sim/pause")
    await wait_until(views.converged, within_s=20)


async def _positive(value: object) -> bool:
    return int(await value) > 0  # type: ignore[misc]


async def _above(value: object, floor: int) -> bool:
    return int(await value) >= floor  # type: ignore[misc]


async def _true(value: bool) -> bool:
    return value
