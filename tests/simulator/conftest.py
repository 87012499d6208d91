"""Fixtures: a real simulator on 127.0.0.1:0, an httpx client, tokens and a callback receiver."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from quart import request
from quart_trio import QuartTrio

from simulator.server import serve
from simulator.settings import SimSettings

START_MS = 1_795_813_200_000 + 10 * 60_000  # 2026-11-27T21:10:00Z (a fixed world clock)

FAST = SimSettings(seed=7, tick_s=0.05, start_at_ms=START_MS, speed=5.0, notify_min_interval_s=0.2)


@dataclasses.dataclass
class Sim:
    url: str
    client: httpx.AsyncClient
    settings: SimSettings

    async def token(self) -> str:
        r = await self.client.post(
            "/oauth/token",
            auth=(self.settings.client_id, self.settings.client_secret),
            data={"grant_type": "client_credentials"},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    async def queue_ids(self) -> list[str]:
        r = await self.client.get("/sim/queues")
        return [q["id"] for q in r.json()["entities"]]

    async def truth(self) -> dict[str, Any]:
        return dict((await self.client.get("/sim/truth")).json())

    async def stats(self) -> dict[str, Any]:
        return dict((await self.client.get("/sim/stats")).json())


StartSim = Callable[..., Awaitable[Sim]]


@pytest.fixture
async def start_sim(nursery: trio.Nursery) -> AsyncIterator[StartSim]:
    """``await start_sim(**overrides)`` runs a simulator (FAST settings plus overrides) for this test."""
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> Sim:
        settings = dataclasses.replace(FAST, **overrides)
        url = await nursery.start(serve, settings)
        client = httpx.AsyncClient(base_url=url, timeout=5)
        clients.append(client)
        return Sim(url, client, settings)

    yield start
    for c in clients:
        await c.aclose()


@pytest.fixture
async def sim(start_sim: StartSim) -> Sim:
    return await start_sim()


@dataclasses.dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP callback endpoint recording every POST; ``statuses`` scripts the answers (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.fail_each_body = 0
        """Answer 500 to the first ``fail_each_body`` POSTs of every distinct body."""
        self._seen: dict[bytes, int] = {}
        self.gate: trio.Event | None = None
        """When set, every POST waits for this event before it is answered."""
        self.url = ""
        self._changed = trio.Event()

    def app(self) -> QuartTrio:
        app = QuartTrio("receiver")

        @app.post("/callback")
        async def callback() -> tuple[str, int]:
            body = await request.get_data()
            assert isinstance(body, bytes)
            if self.gate is not None:
                await self.gate.wait()
            self.received.append(Received({k.lower(): v for k, v in request.headers.items()}, body))
            self._changed.set()
            self._changed = trio.Event()
            self._seen[body] = self._seen.get(body, 0) + 1
            if self._seen[body] <= self.fail_each_body:
                return "", 500
            return "", self.statuses.pop(0) if self.statuses else 200

        return app

    async def wait_for(self, n: int, within: float = 5.0) -> list[Received]:
        with trio.fail_after(within):
            while len(self.received) < n:
                await self._changed.wait()
        return self.received

    async def wait_quiet(self, quiet_s: float = 0.3, within: float = 10.0) -> None:
        """Wait until nothing arrives for ``quiet_s``."""
        with trio.fail_after(within):
            while True:
                with trio.move_on_after(quiet_s) as cs:
                    await self._changed.wait()
                if cs.cancelled_caught:
                    return


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> Receiver:
    rec = Receiver()
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    binds = await nursery.start(partial(hypercorn_serve, rec.app(), config))
    rec.url = f"{binds[0]}/callback"
    return rec
