"""Rate limits: 429 ``Retry-After`` (default 3 s), ``inin-ratelimit-*`` and the per-token allowance."""

from __future__ import annotations

import httpx
import trio

from proxy.auth.bearer import PlatformAuth
from proxy.auth.ratelimit import RateLimiter, retry_after_s
from proxy.auth.token import TokenManager
from proxy.settings import Secret


def token_client() -> tuple[TokenManager, httpx.AsyncClient]:
    def login(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "t", "expires_in": 86400})

    http = httpx.AsyncClient(transport=httpx.MockTransport(login))
    return TokenManager(http=http, token_url="https://login.test/oauth/token", client_id="c",
                        client_secret=Secret("s")), http


def test_retry_after_parsing_defaults_to_three_seconds() -> None:
    assert retry_after_s({"retry-after": "7"}) == 7.0
    assert retry_after_s({}) == 3.0
    assert retry_after_s({"retry-after": "soon"}) == 3.0


async def test_429_retry_after_is_honoured_before_the_retry(autojump_clock: trio.abc.Clock) -> None:
    tokens, http = token_client()
    times: list[float] = []

    def platform(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"code": "too.many.requests.retry.after"})
        if len(times) == 2:
            return httpx.Response(429, json={"code": "too.many.requests"})  # no header: 3 s
        return httpx.Response(200, json={})

    async with http, httpx.AsyncClient(transport=httpx.MockTransport(platform),
                                       auth=PlatformAuth(tokens, RateLimiter())) as client:
        response = await client.get("https://api.test/x")
    assert response.status_code == 200
    assert times[1] - times[0] >= 7.0
    assert times[2] - times[1] >= 3.0


async def test_429_storm_gives_up_after_bounded_retries(autojump_clock: trio.abc.Clock) -> None:
    tokens, http = token_client()
    calls = 0

    def platform(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, headers={"Retry-After": "1"})

    async with http, httpx.AsyncClient(transport=httpx.MockTransport(platform),
                                       auth=PlatformAuth(tokens, RateLimiter(), max_429_retries=3)) as client:
        t0 = trio.current_time()
        response = await client.get("https://api.test/x")
    assert response.status_code == 429
    assert calls == 4
    assert trio.current_time() - t0 >= 3.0


async def test_never_more_than_the_allowance_in_any_window(autojump_clock: trio.abc.Clock) -> None:
    limiter = RateLimiter(per_window=5, window_s=60.0)
    starts: list[float] = []
    async with trio.open_nursery() as nursery:
        for _ in range(17):
            async def one() -> None:
                await limiter.acquire(1)
                starts.append(trio.current_time())

            nursery.start_soon(one)
    starts.sort()
    assert len(starts) == 17
    for i, t in enumerate(starts):
        assert sum(1 for u in starts[i:] if u < t + 60.0) <= 5
    assert starts[-1] - starts[0] >= 180.0


async def test_exhausted_allowance_headers_block_until_reset(autojump_clock: trio.abc.Clock) -> None:
    limiter = RateLimiter()
    limiter.observe(1, 200, {"inin-ratelimit-count": "180", "inin-ratelimit-allowed": "180",
                             "inin-ratelimit-reset": "12"})
    t0 = trio.current_time()
    await limiter.acquire(1)
    assert trio.current_time() - t0 >= 12.0
    limiter.observe(1, 200, {"inin-ratelimit-count": "3", "inin-ratelimit-allowed": "300",
                             "inin-ratelimit-reset": "50"})
    t1 = trio.current_time()
    await limiter.acquire(1)
    assert trio.current_time() == t1
    # another token's allowance is separate
    limiter.block(1, 100)
    t2 = trio.current_time()
    await limiter.acquire(2)
    assert trio.current_time() == t2
