"""Fixtures for the wallboard's real-browser tests.

Playwright's sync API must not run inside trio's event loop, so the servers run elsewhere: one
trio loop in a background thread (:class:`TrioThread`) hosts every proxy and simulator of the
session, and the tests are plain sync functions that drive headless Chromium. Servers bind
127.0.0.1:0 and report their URL through ``task_status``; a proxy can be stopped and started
again on the same port. Chromium is Debian's ``/usr/bin/chromium``: without it the tests skip,
except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from proxy.contract import CALLBACK_PATH, observation_topic
from proxy.runtime import Runtime, build_runtime
from proxy.server import serve
from proxy.settings import Secret, Settings
from tests.conftest import proxy_settings
from tests.helpers import SECRET, signed
from tests.trio_thread import TrioThread

CHROMIUM = Path(os.environ.get("QC_CHROMIUM", "/usr/bin/chromium"))
# As root, and without Chromium's own background networking (refused on this network).
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_NICENESS = 10
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "wallboard.png"


@dataclasses.dataclass
class ProxyHandle:
    """A proxy running in the trio thread. ``stop()`` and ``restart()`` are called from tests."""

    loop: TrioThread
    settings: Settings
    runtime: Runtime
    url: str
    _stop: trio.Event
    _done: trio.Event
    registry: list[ProxyHandle] = dataclasses.field(default_factory=list)

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def stop(self) -> None:
        async def _stop() -> None:
            self._stop.set()
            with trio.fail_after(15):
                await self._done.wait()

        self.loop.run(_stop)

    def restart(self) -> ProxyHandle:
        """Stop, then start a fresh proxy (new runtime, new epoch) on the same port."""
        self.stop()
        handle = start_proxy(self.loop, dataclasses.replace(self.settings, port=self.port))
        handle.registry = self.registry
        self.registry.append(handle)
        return handle

    @property
    def subscribers(self) -> int:
        """Open SSE streams, read in the proxy's own thread."""
        return self.loop.run_sync(lambda: self.runtime.broker.subscriber_count)

    def post(self, envelopes: list[dict[str, Any]], client: httpx.Client | None = None) -> dict[str, Any]:
        raw, headers = signed(envelopes)
        with httpx.Client(timeout=10) if client is None else _borrow(client) as c:
            response = c.post(self.url + CALLBACK_PATH, content=raw, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def queues(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.url + "/api/v1/queues", timeout=10).json()
        return body


class _borrow:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def __enter__(self) -> httpx.Client:
        return self._client

    def __exit__(self, *exc: object) -> None:
        return None


def start_proxy(loop: TrioThread, settings: Settings) -> ProxyHandle:
    async def _start() -> ProxyHandle:
        runtime = build_runtime(settings)
        stop, done = trio.Event(), trio.Event()

        async def run(task_status: trio.TaskStatus[str]) -> None:
            try:
                await serve(settings, runtime=runtime, shutdown_trigger=stop.wait, task_status=task_status)
            finally:
                done.set()

        with trio.fail_after(15):
            url = await loop.nursery.start(run)
        return ProxyHandle(loop, settings, runtime, url, stop, done)

    return loop.run(_start)


@dataclasses.dataclass
class SimHandle:
    """A simulator running in the trio thread, with an Event Bus subscription to a proxy."""

    loop: TrioThread
    url: str
    _scope: trio.CancelScope

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=10).json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.post(self.url + path, json=body or {}, timeout=10)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def credentials(self) -> dict[str, Any]:
        """Proxy settings that let it seed and refresh over the simulator's REST API, as on a tenant."""
        from simulator.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

        return {"api_base": self.url, "login_base": self.url, "client_id": DEMO_CLIENT_ID,
                "client_secret": Secret(DEMO_CLIENT_SECRET), "refresh_s": 0.5}

    def subscribe(self, proxy_url: str) -> None:
        """Create an Event Bus subscription delivering every queue's real observations topic (partial,
        real-shaped messages) to the proxy's callback."""
        from simulator.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

        with httpx.Client(base_url=self.url, timeout=10) as c:
            token = c.post("/oauth/token", auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
                           data={"grant_type": "client_credentials"})
            token.raise_for_status()
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            queues = c.get("/api/v2/routing/queues", params={"pageSize": 500}, headers=auth).json()["entities"]
            sub = c.post("/api/v2/events/subscriptions", json={
                "callbackUrl": proxy_url + CALLBACK_PATH, "topics": [observation_topic(q["id"]) for q in queues],
                "secret": SECRET, "batch": True, "retryIntervalSeconds": 1, "maxRetryAttempts": 30,
            }, headers=auth)
            assert sub.status_code == 201, sub.text

    def stop(self) -> None:
        self.loop.run_sync(self._scope.cancel)


def start_simulator(loop: TrioThread, **overrides: Any) -> SimHandle:
    from simulator.server import serve as sim_serve
    from simulator.settings import SimSettings

    settings = SimSettings(**{"port": 0, **overrides})

    async def _start() -> SimHandle:
        scope = trio.CancelScope()

        async def run(task_status: trio.TaskStatus[str]) -> None:
            with scope:
                await sim_serve(settings, task_status=task_status)

        with trio.fail_after(15):
            url = await loop.nursery.start(run)
        return SimHandle(loop, url, scope)

    return loop.run(_start)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI=true: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile per test (its own SharedWorkers), 1920×1080."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def trio_thread() -> Iterator[TrioThread]:
    loop = TrioThread(name="browser-tests-trio", niceness=SERVER_NICENESS)
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture
def proxy_factory(trio_thread: TrioThread) -> Iterator[Callable[..., ProxyHandle]]:
    """``proxy_factory(**settings_overrides)`` → a running proxy, stopped at the test's end."""
    started: list[ProxyHandle] = []

    def make(**overrides: Any) -> ProxyHandle:
        handle = start_proxy(trio_thread, proxy_settings(**overrides))
        handle.registry = started
        started.append(handle)
        return handle

    yield make
    for handle in list(started):
        if not handle._done.is_set():
            handle.stop()


@pytest.fixture
def simulator_factory(trio_thread: TrioThread) -> Iterator[Callable[..., SimHandle]]:
    started: list[SimHandle] = []

    def make(**overrides: Any) -> SimHandle:
        handle = start_simulator(trio_thread, **overrides)
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.stop()

