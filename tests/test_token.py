"""Token manager and PlatformAuth against ``httpx.MockTransport`` (no network, trio's autojump clock).

Timed tests assert exact times on the mock clock: the backoff's jitter is pinned to its ceiling.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Coroutine

import httpx
import pytest
import trio

from proxy.auth.backoff import Backoff
from proxy.auth.bearer import PlatformAuth
from proxy.auth.ratelimit import MAX_WAIT_S, RateLimiter
from proxy.auth.token import TokenManager, refresh_lead_s
from proxy.errors import AuthError
from proxy.settings import Secret

SECRET = "s3cr3t-client-value-XYZ"
TOKEN_URL = "https://login.example.test/oauth/token"

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


class CeilingDraw(random.Random):
    """Jitter pinned to the top: each backoff delay equals its ceiling (1, 2, 4, ... s)."""

    def uniform(self, a: float, b: float) -> float:
        return b


class FakeLogin:
    """A token endpoint: records request times; ``mode`` is ok, down (503), throttled (429) or invalid.

    ``retry_after`` is the ``Retry-After`` header of the 503/429 answers (none when ``None``).
    """

    def __init__(self, *, lifetime_s: int = 86400, delay_s: float = 0.0) -> None:
        self.lifetime_s = lifetime_s
        self.delay_s = delay_s
        self.mode = "ok"
        self.retry_after: str | None = None
        self.times: list[float] = []
        self.issued: list[str] = []

    @property
    def requests(self) -> int:
        return len(self.times)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.times.append(trio.current_time())
        await trio.sleep(self.delay_s)
        assert request.headers["authorization"].startswith("Basic ")
        assert request.content == b"grant_type=client_credentials"
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        if self.mode == "down":
            return httpx.Response(503, headers=headers, json={"error": "temporarily_unavailable"})
        if self.mode == "throttled":
            return httpx.Response(429, headers=headers, json={"error": "too_many_requests"})
        if self.mode in ("deep-200", "deep-503"):  # a hostile body: an unknown field nested thousands deep
            deep = b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
            return httpx.Response(200 if self.mode == "deep-200" else 503, content=deep)
        if self.mode == "invalid":
            return httpx.Response(401, json={"error": "invalid_client", "description": "authentication failed",
                                             "error_description": "authentication failed"})
        value = f"tok-{len(self.issued) + 1}-secretvalue"
        self.issued.append(value)
        return httpx.Response(200, json={"access_token": value, "token_type": "bearer",
                                         "expires_in": self.lifetime_s})


def manager(login: FakeLogin, *, grace_s: float = 300.0,
            on_capped: Callable[[str], None] | None = None) -> tuple[TokenManager, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(login))
    tokens = TokenManager(http=http, token_url=TOKEN_URL, client_id="cid", client_secret=Secret(SECRET),
                          grace_s=grace_s, backoff=Backoff(initial_s=1.0, max_s=30.0, rng=CeilingDraw()),
                          on_capped=on_capped)
    return tokens, http


@pytest.mark.parametrize(
    ("lifetime_s", "grace_s", "refresh_after_s"),
    [(86400, 300, 77760), (172800, 300, 155520), (300, 300, 150), (3600, 600, 3000), (300, 10, 270)],
)
def test_refresh_point_honours_grace_and_never_later_than_90_percent(
    lifetime_s: float, grace_s: float, refresh_after_s: float
) -> None:
    assert lifetime_s - refresh_lead_s(lifetime_s, grace_s) == pytest.approx(refresh_after_s)


async def test_hundred_concurrent_callers_cause_one_token_request(autojump_clock: trio.abc.Clock) -> None:
    login = FakeLogin(delay_s=1.0)
    tokens, http = manager(login)
    got: list[str] = []
    t0 = trio.current_time()

    async def caller() -> None:
        got.append((await tokens.token()).value)

    async with http, trio.open_nursery() as nursery:
        for _ in range(100):
            nursery.start_soon(caller)
    assert login.requests == 1
    assert got == ["tok-1-secretvalue"] * 100
    assert trio.current_time() == t0 + 1.0  # everyone was served by that one request


@pytest.mark.parametrize(
    ("lifetime_s", "grace_s", "refresh_after_s"),
    [
        (86400, 300, 77760),  # 90 % rule: the grace alone would refresh later
        (172800, 300, 155520),  # 90 % rule
        (3600, 600, 3000),  # the grace
        (300, 300, 150),  # never before half the lifetime
        (300, 10, 270),  # 90 % rule on a short token
    ],
)
async def test_token_is_replaced_exactly_at_its_refresh_point(
    autojump_clock: trio.abc.Clock, lifetime_s: int, grace_s: float, refresh_after_s: float
) -> None:
    login = FakeLogin(lifetime_s=lifetime_s)
    tokens, http = manager(login, grace_s=grace_s)
    async with http:
        t0 = trio.current_time()
        first = await tokens.token()
        assert (first.issued_at, first.refresh_at, first.expires_at) == (t0, t0 + refresh_after_s, t0 + lifetime_s)
        await trio.sleep_until(t0 + refresh_after_s - 1)
        assert await tokens.token() is first
        assert login.requests == 1
        await trio.sleep_until(t0 + refresh_after_s)
        second = await tokens.token()
        assert second.generation == first.generation + 1
        assert second.issued_at == t0 + refresh_after_s  # replaced while the old one still worked
        assert login.times == [t0, t0 + refresh_after_s]


async def test_failed_refresh_keeps_old_token_with_backoff_then_recovers(autojump_clock: trio.abc.Clock) -> None:
    login = FakeLogin(lifetime_s=600)
    tokens, http = manager(login, grace_s=300)
    async with http:
        t0 = trio.current_time()
        first = await tokens.token()
        assert first.refresh_at == t0 + 300
        login.mode, login.retry_after = "down", "0"  # no floor: the backoff alone spaces the attempts
        await trio.sleep_until(first.refresh_at)
        # 100 s of calls during the outage: the old token is served, the endpoint is asked on the
        # backoff schedule (1, 2, 4, 8, 16, 30, 30 s)
        for _ in range(200):
            assert (await tokens.token()).value == first.value
            await trio.sleep(0.5)
        assert login.times[1:] == [t0 + t for t in (300, 301, 303, 307, 315, 331, 361, 391)]
        assert tokens.retry_at == t0 + 421
        login.mode = "ok"
        await trio.sleep_until(tokens.retry_at)
        second = await tokens.token()
        assert (second.generation, second.issued_at) == (first.generation + 1, t0 + 421)
        # a success resets the backoff: the next failure waits 1 s again
        login.mode = "down"
        await trio.sleep_until(second.refresh_at)
        assert await tokens.token() is second
        assert tokens.retry_at == second.refresh_at + 1


@pytest.mark.parametrize(
    ("retry_after", "next_attempt_after_s"),
    [(None, 3.0), ("20", 20.0), ("0", 1.0)],
)
async def test_no_valid_token_and_endpoint_down_is_a_transient_error(
    autojump_clock: trio.abc.Clock, retry_after: str | None, next_attempt_after_s: float
) -> None:
    # Retry-After of the 503 (default 3 s) is a floor under the backoff (1 s first)
    login = FakeLogin()
    login.mode, login.retry_after = "down", retry_after
    tokens, http = manager(login)
    async with http:
        t0 = trio.current_time()
        with pytest.raises(AuthError) as info:
            await tokens.token()
        assert not info.value.fatal
        with pytest.raises(AuthError):
            await tokens.token()  # waits for the floor/backoff before asking again
        assert login.times == [t0, t0 + next_attempt_after_s]
        assert tokens.capped == 0


async def test_huge_retry_after_of_the_token_endpoint_waits_exactly_the_cap_and_counts_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    told: list[str] = []
    login = FakeLogin()
    login.mode, login.retry_after = "throttled", "99999999999999999999"
    tokens, http = manager(login, on_capped=told.append)
    async with http:
        t0 = trio.current_time()
        with pytest.raises(AuthError) as info:
            await tokens.token()
        assert not info.value.fatal
        assert tokens.retry_at == t0 + MAX_WAIT_S
        login.mode = "ok"
        token = await tokens.token()
    assert token.issued_at == t0 + MAX_WAIT_S
    assert login.times == [t0, t0 + MAX_WAIT_S]
    assert tokens.capped == 1
    assert told == ["retry-after"]


@pytest.mark.parametrize("mode", ["deep-200", "deep-503"])
async def test_a_body_nested_thousands_deep_is_a_transient_auth_error_not_a_crash(mode: str) -> None:
    login = FakeLogin()
    login.mode = mode
    tokens, http = manager(login)
    async with http:
        with pytest.raises(AuthError) as info:
            await tokens.token()
    assert not info.value.fatal


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


async def test_hundred_concurrent_401s_cause_one_new_token(autojump_clock: trio.abc.Clock) -> None:
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


class LateStore:
    """A cluster store in the interleaving that cost a second token request: the first look finds nothing,
    then the instance that held the lock stores its token and lets go, and this one takes the lock."""

    def __init__(self) -> None:
        self.loads = 0
        self.unlocked = False

    async def load(self) -> tuple[str, float, float] | None:
        self.loads += 1
        if self.loads == 1:
            return None
        return ("tok-from-peer", time.time() - 1, time.time() + 3600)

    async def save(self, value: str, issued_at: float, expires_at: float) -> None:
        raise AssertionError("nothing to save: the peer's token was there")

    async def lock(self, ttl_s: float) -> bool:
        return True

    async def unlock(self) -> None:
        self.unlocked = True


async def test_a_token_stored_between_the_look_and_the_lock_is_adopted_not_requested_again() -> None:
    login = FakeLogin()
    store = LateStore()
    http = httpx.AsyncClient(transport=httpx.MockTransport(login))
    tokens = TokenManager(http=http, token_url=TOKEN_URL, client_id="cid", client_secret=Secret(SECRET),
                          store=store)
    async with http:
        assert (await tokens.token()).value == "tok-from-peer"
    assert login.requests == 0 and tokens.shared == 1 and store.unlocked
