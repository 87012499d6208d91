"""Fixtures: a real proxy (Hypercorn, trio worker) on 127.0.0.1:0 inside the test's nursery."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import trio

from proxy.runtime import Runtime, build_runtime
from proxy.server import serve
from proxy.settings import Secret, Settings
from tests.helpers import SECRET


@dataclass
class RunningProxy:
    url: str
    runtime: Runtime
    settings: Settings
    stop: trio.Event


def proxy_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "callback_secret": Secret(SECRET),
        "aggregate_ms": 0,
        "keepalive_s": 15.0,
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


StartProxy = Callable[..., Awaitable[RunningProxy]]


@pytest.fixture
async def start_proxy(nursery: trio.Nursery) -> StartProxy:
    """``await start_proxy(**settings_overrides)`` → a running proxy, stopped at test end."""

    async def start(**overrides: object) -> RunningProxy:
        settings = proxy_settings(**overrides)
        runtime = build_runtime(settings)
        stop = trio.Event()
        url = await nursery.start(functools.partial(serve, settings, runtime=runtime, shutdown_trigger=stop.wait))
        return RunningProxy(url, runtime, settings, stop)

    return start


@pytest.fixture
async def proxy(start_proxy: StartProxy) -> RunningProxy:
    return await start_proxy()


@pytest.fixture
async def client(proxy: RunningProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(5, read=None)) as c:
        yield c


@dataclass
class Stack:
    """A simulator pushing through its Event Bus into a running proxy, both on loopback."""

    sim_url: str
    proxy: RunningProxy
    subscription_id: str


async def start_stack(nursery: trio.Nursery, start_proxy: StartProxy, *, sim: object | None = None,
                      batch: bool = False, fmt: str = "JSON", **proxy_overrides: object) -> Stack:
    """The simulator's Event Bus pushing real-shaped observation messages (``fmt``: the guide's JSON
    envelope or EventBridge's) to a push-only proxy that holds platform credentials, as a tenant runs
    it: it seeds the board and refreshes longest waits and agent counts over REST."""
    from queuecast.wiring import subscribe_eventbus
    from simulator.server import serve as serve_simulator
    from simulator.settings import SimSettings

    sim_settings = sim if isinstance(sim, SimSettings) else SimSettings(port=0, seed=7, queues=5, agents=30,
                                                                       arrivals_per_min=120.0, callback_secret=SECRET)
    sim_url = await nursery.start(functools.partial(serve_simulator, sim_settings))
    credentials = {"api_base": sim_url, "login_base": sim_url, "client_id": sim_settings.client_id,
                   "client_secret": Secret(sim_settings.client_secret), "refresh_s": 0.5}
    proxy = await start_proxy(**{**credentials, **proxy_overrides})
    subscription = await subscribe_eventbus(sim_url, proxy.url, client_id=sim_settings.client_id,
                                            client_secret=sim_settings.client_secret,
                                            callback_secret=sim_settings.callback_secret, batch=batch,
                                            retry_interval_s=0.2, fmt=fmt)
    return Stack(sim_url, proxy, subscription)


@pytest.fixture
async def stack(nursery: trio.Nursery, start_proxy: StartProxy) -> Stack:
    return await start_stack(nursery, start_proxy)
