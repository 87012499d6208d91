"""No secret and no token in any log line of a full e2e run, at DEBUG, from the real proxy process.

The proxy runs as ``python -m queuecast proxy`` (its own logging set-up) in ``eventbus`` mode against the
simulator (in this process, so the test learns every OAuth token it issues): OAuth, its subscription
with the callback secret, HMAC-signed deliveries (current and previous secret), a forced token refresh,
streams and API calls with viewer tokens from all three sources, refused ones too. Then every line the
process wrote is searched for the client secret, both HMAC secrets, the viewer key, every bearer token
the simulator issued and every JWT the test used.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
import trio

from proxy.auth.viewer import ViewerGate
from proxy.settings import Secret
from simulator.oauth import Token, TokenStore
from tests.e2e.conftest import StartSim, wait_until
from tests.helpers import envelope, signed

CLIENT_SECRET = "sim-client-secret-7f3a9c1e55d04b"
CALLBACK_SECRET = "callback-secret-new-4b8e2d7a91c3"
CALLBACK_PREVIOUS = "callback-secret-old-a0c9e1f37d55"
VIEWER_KEY = "viewer-key-for-the-log-test-" + "9" * 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client:
        yield client


async def test_no_secret_or_token_reaches_any_log_line(start_sim: StartSim, http: httpx.AsyncClient,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issued: list[str] = []
    original_issue = TokenStore.issue

    def recording_issue(self: TokenStore, client_id: str) -> Token:
        token = original_issue(self, client_id)
        issued.append(token.value)
        return token

    monkeypatch.setattr(TokenStore, "issue", recording_issue)  # records; the simulator behaves as ever
    sim = await start_sim(speed=20.0, queues=3, agents=20, client_secret=CLIENT_SECRET,
                          callback_secret="sim-default-callback-secret-x1")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QC_")}
    env.update({
        "QC_PORT": str(port), "QC_LOG_LEVEL": "DEBUG", "QC_UPSTREAM": "eventbus", "QC_PUBLIC_URL": url,
        "QC_API_BASE": sim.url, "QC_LOGIN_BASE": sim.url, "QC_CLIENT_ID": sim.settings.client_id,
        "QC_CLIENT_SECRET": CLIENT_SECRET, "QC_CALLBACK_SECRET": CALLBACK_SECRET,
        "QC_CALLBACK_SECRET_PREVIOUS": CALLBACK_PREVIOUS, "QC_VIEWER_JWT_SECRET": VIEWER_KEY,
        "QC_REFRESH_S": "0.5", "QC_KEEPALIVE_S": "0.5", "PYTHONUNBUFFERED": "1",
    })
    log_path = tmp_path / "proxy.log"
    gate = ViewerGate(Secret(VIEWER_KEY))
    viewer = gate.issue(["*"], ttl_s=600)
    narrow = gate.issue([f"q-{n}" for n in range(3)], ttl_s=600)
    forged = jwt.encode({"queues": ["*"], "exp": int(time.time()) + 600}, "f" * 40, algorithm="HS256")
    expired = jwt.encode({"queues": ["*"], "exp": int(time.time()) - 10}, VIEWER_KEY, algorithm="HS256")
    with log_path.open("wb") as log_file:
        proc = await trio.lowlevel.open_process([sys.executable, "-m", "queuecast", "proxy"], env=env,
                                                stdout=log_file, stderr=subprocess.STDOUT)
        try:
            await wait_until(lambda: _answers(http, f"{url}/healthz"), within_s=30)
            queues = f"{url}/api/v1/queues"
            bearer = {"Authorization": f"Bearer {viewer}"}
            await wait_until(lambda: _has_queues(http, queues, bearer), within_s=20)

            # callbacks: signed with the current and the previous secret, and forged
            for secret, status in ((CALLBACK_SECRET, 200), (CALLBACK_PREVIOUS, 200), ("not-the-secret", 401)):
                raw, headers = signed(envelope("q-extra", oWaiting=1), secret)
                r = await http.post(f"{url}/api/v1/event-stream/callback", content=raw, headers=headers)
                assert r.status_code == status

            # viewer tokens from the three sources, and refused ones
            assert (await http.get(queues, params={"access_token": narrow})).status_code == 200
            assert (await http.get(queues, headers={"Cookie": f"qc_viewer={viewer}"})).status_code == 200
            for bad in (forged, expired):
                assert (await http.get(queues, params={"access_token": bad})).status_code == 401
                async with http.stream("GET", f"{url}/dashboard-stream",
                                       headers={"Authorization": f"Bearer {bad}"}) as refused:
                    assert refused.status_code == 401
            for kwargs in ({"params": {"access_token": viewer}}, {"headers": bearer}):
                async with http.stream("GET", f"{url}/dashboard-stream", **kwargs) as stream:  # type: ignore[arg-type]
                    assert stream.status_code == 200
                    with trio.fail_after(5):
                        async for line in stream.aiter_lines():
                            if line.startswith("event: snapshot"):
                                break

            # the platform token expires: the proxy gets a new one
            before = len(issued)
            await http.post(f"{sim.url}/sim/tokens/expire")
            await wait_until(lambda: _true(len(issued) > before), within_s=20)
            await trio.sleep(1.0)  # let the refresh and more deliveries log
        finally:
            proc.send_signal(signal.SIGINT)
            with trio.move_on_after(20):
                await proc.wait()
            if proc.returncode is None:  # never leave it behind
                proc.kill()
                await proc.wait()
                pytest.fail("the proxy did not stop within 20 s of SIGINT")

    lines = log_path.read_text(errors="replace").splitlines()
    assert any(" DEBUG " in line for line in lines), "the run logged at DEBUG"
    assert len(lines) > 20
    assert issued, "the proxy authenticated against the simulator"
    secrets = {"client secret": CLIENT_SECRET, "callback secret": CALLBACK_SECRET,
               "previous callback secret": CALLBACK_PREVIOUS, "viewer key": VIEWER_KEY,
               **{f"bearer token {i}": t for i, t in enumerate(issued)},
               "viewer JWT": viewer, "narrow JWT": narrow, "forged JWT": forged, "expired JWT": expired}
    leaks = [(name, n, line) for n, line in enumerate(lines, 1) for name, value in secrets.items() if value in line]
    assert not leaks, json.dumps(leaks[:5], indent=1)
    assert not any("access_token=" in line and "access_token=<redacted>" not in line for line in lines)


async def _answers(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def _has_queues(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> bool:
    r = await http.get(url, headers=headers)
    return r.status_code == 200 and len(r.json()["queues"]) >= 3


async def _true(value: bool) -> bool:
    return value
