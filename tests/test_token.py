"""Token manager and PlatformAuth against ``httpx.MockTransport`` (no network, trio's autojump clock)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest
import trio

from proxy.auth.backoff import Backoff
from proxy.auth.bearer import PlatformAuth
from proxy.auth.ratelimit import RateLimiter
from proxy.auth.token import TokenManager, refresh_lead_s
from proxy.errors import AuthError
from proxy.settings import Secret

SECRET = "s3cr3t-client-value-XYZ"
TOKEN_URL = "https://login.example.test/oauth/token"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class FakeLogin:
    """A token endpoint: counts requests; ``mode`` switches between ok, down and invalid_client."""

    def __init__(self, *, lifetime_s: int = 86400, delay_s: float = 0.0) -> None:
        self.lifetime_s = lifetime_s
        self.delay_s = delay_s
        self.mode = "ok"
        self.requests = 0
        self.issued: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await trio.sleep(self.delay_s)
        assert request.headers["authorization"].startswith("Basic ")
        assert request.content == b"grant_type=client_credentials"
        if self.mode == "down":
            return httpx.Response(503, json={"error": "temporarily_unavailable"})
        if self.mode == "invalid":
            return httpx.Response(401, json={"error": "invalid_client", "description": "authentication failed",
                                             "error_description": "authentication failed"})
        value = f"tok-{len(self.issued) + 1}-secretvalue"
        self.issued.append(value)
        return httpx.Response(200, json={"access_token": value, "token_type": "bearer",
                                         "expires_in": self.lifetime_s})


def manager(login: FakeLogin, *, grace_s: float = 300.0) -> tuple[TokenManager, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(login))
    tokens = TokenManager(http=http, token_url=TOKEN_URL, client_id="cid", client_secret=Secret(SECRET),
                          grace_s=grace_s, backoff=Backoff(initial_s=1.0, max_s=30.0))
    return tokens, http


@pytest.mark.parametrize(
    ("lifetime_s", "grace_s", "refresh_after_s"),
    [(86400, 300, 77760), (172800, 300, 155520), (300, 300, 150), (3600, 600, 3000), (300, 10, 270)],
)
def test_refresh_point_honours_grace_and_never_later_than_90_percent(
    lifetime_s: float, grace_s: float, refresh_after_s: float
) -> None:
    assert lifetime_s - refresh_lead_s(lifetime_s, grace_s) == pytest.approx(refresh_after_s)


async def test_hundred_concurrent_callers_cause_one_token_request() -> None:
    login = FakeLogin(delay_s=0.05)
    tokens, http = manager(login)
    got: list[str] = []

    async def caller() -> None:
        got.append((await tokens.token()).value)

    async with http, trio.open_nursery() as nursery:
        for _ in range(100):
            nursery.start_soon(caller)
    assert login.requests == 1
    assert got == ["tok-1-secretvalue"] * 100


@pytest.mark.parametrize("lifetime_s", [300, 172800])
async def test_token_is_replaced_before_expiry_for_short_and_long_lifetimes(
    autojump_clock: trio.abc.Clock, lifetime_s: int
) -> None:
    login = FakeLogin(lifetime_s=lifetime_s)
    tokens, http = manager(login)
    async with http:
        first = await tokens.token()
        await trio.sleep_until(first.refresh_at - 1)
        assert await tokens.token() is first
        await trio.sleep_until(first.refresh_at)
        second = await tokens.token()
        assert second.generation == first.generation + 1
        assert trio.current_time() < first.expires_at  # replaced while the old one still worked
        assert first.refresh_at - first.issued_at <= 0.9 * lifetime_s + 1e-6


async def test_failed_refresh_keeps_old_token_with_backoff_then_recovers(autojump_clock: trio.abc.Clock) -> None:
    login = FakeLogin(lifetime_s=600)
    tokens, http = manager(login, grace_s=300)
    async with http:
        first = await tokens.token()
        login.mode = "down"
        await trio.sleep_until(first.refresh_at + 0.1)
        before = login.requests
        # many calls during the outage: the old token is served, the endpoint is asked rarely
        for _ in range(200):
            assert (await tokens.token()).value == first.value
            await trio.sleep(0.5)
        attempts = login.requests - before
        assert 1 <= attempts <= 12  # 100 s of calls, exponential backoff from 1 s
        login.mode = "ok"
        await trio.sleep_until(tokens.retry_at)
        assert (await tokens.token()).generation == first.generation + 1


async def test_no_valid_token_and_endpoint_down_is_a_transient_error(autojump_clock: trio.abc.Clock) -> None:
    login = FakeLogin()
    login.mode = "down"
    tokens, http = manager(login)
    async with http:
        with pytest.raises(AuthError) as info:
            await tokens.token()
        assert not info.value.fatal
        t0 = trio.current_time()
        with pytest.raises(AuthError):
            await tokens.token()  # waits for the backoff before asking again
        assert trio.current_time() - t0 >= 0.5
        assert login.requests == 2


async def test_invalid_client_is_fatal_clear_and_never_shows_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login = FakeLogin()
    login.mode = "invalid"
    tokens, http = manager(login)
    async with http:
        with pytest.raises(AuthError) as info:
            await tokens.token()
        assert info.value.fatal
        assert "invalid_client" in str(info.value) and "QC_CLIENT_SECRET" in str(info.value)
        with pytest.raises(AuthError):  # stays fatal, no more requests
            await tokens.token()
    assert login.requests == 1
    texts = [caplog.text, str(info.value), repr(info.value), repr(tokens.current), repr(tokens)]
    assert all(SECRET not in text for text in texts)


async def test_tokens_never_reach_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login = FakeLogin()
    tokens, http = manager(login)
    async with http:
        token = await tokens.token()
    assert token.value not in repr(token)
    assert token.value not in caplog.text and SECRET not in caplog.text


def api(tokens: TokenManager, handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="https://api.example.test", transport=httpx.MockTransport(handler),
                             auth=PlatformAuth(tokens, RateLimiter()))


async def test_401_forces_one_refresh_and_retry() -> None:
    login = FakeLogin()
    tokens, http = manager(login)
    seen: list[str] = []

    async def platform(request: httpx.Request) -> httpx.Response:
        bearer = request.headers["authorization"]
        seen.append(bearer)
        if bearer == "Bearer tok-1-secretvalue":  # the first token "expired" on the platform
            return httpx.Response(401, json={"message": "Invalid login credentials.", "code": "bad.credentials",
                                             "status": 401})
        return httpx.Response(200, json={"ok": True})

    async with http, api(tokens, platform) as client:
        response = await client.get("/api/v2/thing")
    assert response.status_code == 200
    assert seen == ["Bearer tok-1-secretvalue", "Bearer tok-2-secretvalue"]
    assert login.requests == 2


async def test_401_is_retried_only_once() -> None:
    login = FakeLogin()
    tokens, http = manager(login)
    calls = 0

    async def platform(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401, content=json.dumps({"code": "bad.credentials"}).encode())

    async with http, api(tokens, platform) as client:
        response = await client.get("/api/v2/thing")
    assert response.status_code == 401
    assert calls == 2


async def test_hundred_concurrent_401s_cause_one_new_token() -> None:
    login = FakeLogin(delay_s=0.01)
    tokens, http = manager(login)

    async def platform(request: httpx.Request) -> httpx.Response:
        await trio.sleep(0.01)
        if request.headers["authorization"] == "Bearer tok-1-secretvalue":
            return httpx.Response(401, json={"code": "bad.credentials"})
        return httpx.Response(200, json={})

    async with http, api(tokens, platform) as client:
        await tokens.token()
        statuses: list[int] = []

        async def call() -> None:
            statuses.append((await client.get("/x")).status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(call)
    assert statuses == [200] * 100
    assert login.requests == 2
