"""Fixtures for end-to-end tests: the simulator on 127.0.0.1:0 inside the test's nursery."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio

from proxy.settings import Secret, Settings
from proxy.upstream.context import Mode, UpstreamConfig, UpstreamContext
from proxy.upstream.runner import run_upstream
from simulator.server import serve as serve_simulator
from simulator.settings import SimSettings
from tests.conftest import RunningProxy, proxy_settings


@dataclass
class RunningSim:
    url: str
    settings: SimSettings


StartSim = Callable[..., Awaitable[RunningSim]]


@pytest.fixture
async def start_sim(nursery: trio.Nursery) -> StartSim:
    """``await start_sim(**SimSettings overrides)`` → a running simulator, stopped at test end."""

    async def start(**overrides: object) -> RunningSim:
        settings = SimSettings(**{"port": 0, "host": "127.0.0.1", **overrides})  # type: ignore[arg-type]
        url = await nursery.start(functools.partial(serve_simulator, settings))
        return RunningSim(url, settings)

    return start
_SETTINGS_FIELDS = {f.name for f in dataclasses.fields(Settings)}


def upstream_config(sim_url: str, sim: SimSettings, *, mode: Mode = "notifications",
                    **overrides: Any) -> UpstreamConfig:
    """An upstream against the simulator; ``overrides`` are :class:`Settings` fields (``queues``,
    ``public_url``, ...) or :class:`UpstreamConfig` tuning fields (``rediscover_s``, ...)."""
    settings: dict[str, Any] = {
        "api_base": sim_url, "login_base": sim_url, "client_id": sim.client_id,
        "client_secret": Secret(sim.client_secret), "heartbeat_timeout_s": 5.0, "refresh_s": 0.5,
    }
    tuning: dict[str, Any] = {"backoff_initial_s": 0.05, "backoff_max_s": 0.5, "http_timeout_s": 5.0}
    for key, value in overrides.items():
        (settings if key in _SETTINGS_FIELDS else tuning)[key] = value
    return UpstreamConfig(mode=mode, settings=proxy_settings(**settings), **tuning)


async def start_upstream(nursery: trio.Nursery, proxy: RunningProxy, config: UpstreamConfig) -> UpstreamContext:
    ctx: UpstreamContext = await nursery.start(run_upstream, proxy.runtime.sinks(), config)
    return ctx


_PROXY_ONLY = ("updatedAt", "longestWaitingAsOf")


def comparable(queues: dict[str, Any]) -> dict[str, Any]:
    """Queue views without what only the proxy can know: ``updatedAt`` (a real message moving only
    interval figures has no instant time) and ``longestWaitingAsOf`` (when the proxy asked REST)."""
    return {qid: {k: v for k, v in view.items() if k not in _PROXY_ONLY} for qid, view in queues.items()}


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, within_s: float = 10.0,
                     every_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fails after ``within_s``. The state lives in other servers
    (the simulator, over HTTP), so there is no event to wait on."""
    with trio.fail_after(within_s):
        while not await predicate():  # noqa: ASYNC110  # remote state: polling is the only way
            await trio.sleep(every_s)


class Views:
    """Reads the proxy's ``/api/v1/queues`` and the simulator's ``/sim/truth``."""

    def __init__(self, http: httpx.AsyncClient, proxy_url: str, sim_url: str) -> None:
        self.http = http
        self.proxy_url = proxy_url
        self.sim_url = sim_url

    async def proxy(self) -> dict[str, Any]:
        return comparable((await self.http.get(f"{self.proxy_url}/api/v1/queues")).json()["queues"])

    async def truth(self) -> dict[str, Any]:
        return comparable((await self.http.get(f"{self.sim_url}/sim/truth")).json()["queues"])

    async def converged(self) -> bool:
        return await self.proxy() == await self.truth()

    async def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"{self.sim_url}{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.sim("GET", "/sim/stats")
        return result
