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
