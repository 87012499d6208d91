"""The vendor's own client as the simulator's judge: fixtures for driving a simulator with the SDK.

The official Genesys Cloud Python SDK (``purecloudplatformclientv2``) is synchronous, so the
simulator runs in a trio loop on a background thread (:class:`TrioThread`) and the tests are plain
sync functions, as a tenant integration would be. Each test gets its own simulator on
127.0.0.1:0, paused (the world moves only when a test advances it), and an ``ApiClient`` whose
``host`` is the simulator's URL: the SDK derives the login URL from it (``//api.`` →
``//login.``; a host without ``api.`` keeps its URL), exactly as it does for a region.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import PureCloudPlatformClientV2 as sdk
import pytest
import trio

from simulator.server import serve
from simulator.settings import SimSettings
from tests.trio_thread import TrioThread

START_MS = 1_795_813_200_000 + 10 * 60_000  # 2026-11-27T21:10:00Z
SETTINGS = SimSettings(seed=11, tick_s=0.05, start_at_ms=START_MS, speed=1.0, notify_min_interval_s=0.1)


@dataclasses.dataclass
class Sim:
    """A running simulator: its URL, settings, a control client and the SDK's ``ApiClient``."""

    url: str
    settings: SimSettings
    control: httpx.Client

    def api_client(self) -> sdk.api_client.ApiClient:
        """A fresh SDK client logged in with client credentials, as a tenant integration would."""
        client = sdk.api_client.ApiClient(host=self.url)
        return client.get_client_credentials_token(self.settings.client_id, self.settings.client_secret)

    def advance(self, seconds: float) -> None:
        assert self.control.post("/sim/advance", json={"seconds": seconds}).status_code == 200

    def truth(self) -> dict[str, Any]:
        return dict(self.control.get("/sim/truth").json())

    def queue_ids(self) -> list[str]:
        return [q["id"] for q in self.control.get("/sim/queues").json()["entities"]]


@pytest.fixture(scope="session")
def trio_thread() -> Iterator[TrioThread]:
    thread = TrioThread(name="contract-sdk-trio")
    yield thread
    thread.close()


@pytest.fixture
def start_sim(trio_thread: TrioThread) -> Iterator[Callable[..., Sim]]:
    """``start_sim(**overrides)``: a paused simulator for this test, stopped at its end."""
    scopes: list[trio.CancelScope] = []
    clients: list[httpx.Client] = []

    def start(**overrides: Any) -> Sim:
        settings = dataclasses.replace(SETTINGS, **overrides)
        scope = trio.CancelScope()
        scopes.append(scope)

        async def run(*, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await serve(settings, task_status=task_status)

        async def launch() -> str:
            return str(await trio_thread.nursery.start(run))

        url = trio_thread.run(launch)
        control = httpx.Client(base_url=url, timeout=10)
        clients.append(control)
        assert control.post("/sim/pause").status_code == 200
        return Sim(url, settings, control)

    yield start
    for c in clients:
        c.close()
    for s in scopes:
        trio_thread.run_sync(s.cancel)


@pytest.fixture
def sim(start_sim: Callable[..., Sim]) -> Sim:
    return start_sim()


# ---------------------------------------------------------------- judging a deserialization
class _Raw:
    """The part of a urllib3 response ``ApiClient.deserialize`` reads."""

    def __init__(self, data: Any) -> None:
        self.data = json.dumps(data)

    def getheader(self, name: str) -> str | None:
        return "application/json" if name.lower() == "content-type" else None


def deserialize(client: sdk.api_client.ApiClient, data: Any, model: str) -> Any:
    """``data`` (parsed JSON) as the SDK's ``model``, the way the SDK reads a response body."""
    return client.deserialize(_Raw(data), model)


def last_json(client: sdk.api_client.ApiClient) -> Any:
    """The body of the client's last response, as JSON."""
    return json.loads(client.last_response.data)


def _same(raw: Any, ser: Any, path: str) -> None:
    if isinstance(raw, dict):
        assert isinstance(ser, dict), f"{path}: the SDK read {ser!r}"
        lost = set(raw) - set(ser)
        assert not lost, f"{path}: fields the SDK model does not know: {sorted(lost)}"
        assert set(ser) <= set(raw), f"{path}: the SDK added {sorted(set(ser) - set(raw))}"
        for k in raw:
            _same(raw[k], ser[k], f"{path}.{k}")
    elif isinstance(raw, list):
        assert isinstance(ser, list) and len(ser) == len(raw), f"{path}: the SDK read {ser!r}"
        for i, (a, b) in enumerate(zip(raw, ser, strict=True)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(raw, str) and isinstance(ser, str) and raw != ser:
        # a datetime field: the SDK writes isoformat() back, the wire has ...Z; compare instants
        try:
            same = datetime.fromisoformat(raw.replace("Z", "+00:00")) == datetime.fromisoformat(ser)
        except ValueError:
            same = False
        assert same, f"{path}: {raw!r} read as {ser!r} (an enum value the SDK does not know?)"
    else:
        assert raw == ser, f"{path}: {raw!r} read as {ser!r}"


def assert_lossless(client: sdk.api_client.ApiClient, raw: Any, model_value: Any) -> None:
    """Every field of ``raw`` survived the SDK's model: no unknown field, no enum value read as
    ``outdated_sdk_version``, every number and string unchanged."""
    _same(raw, client.sanitize_for_serialization(model_value), "$")
