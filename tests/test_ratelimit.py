"""Rate limits: 429 ``Retry-After`` (default 3 s), ``inin-ratelimit-*``, the per-token allowance and the
300 s cap on header waits. Timed tests run on trio's autojump clock and assert exact times."""

from __future__ import annotations

import httpx
import pytest
import trio

from proxy.auth.bearer import PlatformAuth
from proxy.auth.ratelimit import MAX_WAIT_S, RateLimiter, retry_after_s
from proxy.auth.token import TokenManager
from proxy.settings import Secret

EXHAUSTED = {"inin-ratelimit-count": "300", "inin-ratelimit-allowed": "300"}


def token_client() -> tuple[TokenManager, httpx.AsyncClient]:
    def login(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "t", "expires_in": 86400})

    http = httpx.AsyncClient(transport=httpx.MockTransport(login))
    return TokenManager(http=http, token_url="https://login.test/oauth/token", client_id="c",
                        client_secret=Secret("s")), http


async def blocked_for(limiter: RateLimiter, key: int = 1) -> float:
    """How long the next ``acquire(key)`` blocks (exact on the mock clock)."""
    t0 = trio.current_time()
    await limiter.acquire(key)
    return trio.current_time() - t0


@pytest.mark.parametrize(
    ("header", "expected", "capped"),
    [
        (None, 3.0, False),
        ("7", 7.0, False),
        ("0", 0.0, False),
        ("2.5", 2.5, False),
        ("300", 300.0, False),
        ("300.5", 300.0, True),
        ("1e9", 300.0, True),
        ("99999999999999999999", 300.0, True),
        ("soon", 3.0, False),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 3.0, False),
        ("-1", 3.0, False),
        ("nan", 3.0, False),
        ("inf", 3.0, False),
        ("-inf", 3.0, False),
    ],
)
def test_retry_after_is_read_capped_at_300_s_and_defaults_to_three_seconds(
    header: str | None, expected: float, capped: bool
) -> None:
    told: list[str] = []
    headers = {} if header is None else {"retry-after": header}
    assert retry_after_s(headers, on_capped=told.append) == expected
    assert told == (["retry-after"] if capped else [])


def test_the_cap_is_300_seconds() -> None:
    assert MAX_WAIT_S == 300.0


async def test_huge_retry_after_blocks_for_exactly_the_cap_and_counts_once(autojump_clock: trio.abc.Clock) -> None:
    told: list[str] = []
    limiter = RateLimiter(on_capped=told.append)
    limiter.observe(1, 429, {"retry-after": "1e9"})
    assert await blocked_for(limiter) == MAX_WAIT_S
    assert await blocked_for(limiter) == 0.0
    assert limiter.capped == 1
    assert told == ["retry-after"]


async def test_huge_ratelimit_reset_blocks_for_exactly_the_cap_and_counts_once(autojump_clock: trio.abc.Clock) -> None:
    told: list[str] = []
    limiter = RateLimiter(on_capped=told.append)
    limiter.observe(1, 200, {**EXHAUSTED, "inin-ratelimit-reset": "99999999999999999999"})
    assert await blocked_for(limiter) == MAX_WAIT_S
    assert await blocked_for(limiter) == 0.0
    assert limiter.capped == 1
    assert told == ["inin-ratelimit-reset"]


async def test_huge_reset_of_an_allowance_not_yet_used_up_is_ignored(autojump_clock: trio.abc.Clock) -> None:
    limiter = RateLimiter()
    limiter.observe(1, 200, {"inin-ratelimit-count": "3", "inin-ratelimit-allowed": "300",
                             "inin-ratelimit-reset": "1e9"})
    assert await blocked_for(limiter) == 0.0
    assert limiter.capped == 0


@pytest.mark.parametrize("reset", [None, "soon", "-5", "nan", "inf"])
async def test_unreadable_reset_of_an_exhausted_allowance_blocks_one_window(
    autojump_clock: trio.abc.Clock, reset: str | None
) -> None:
    limiter = RateLimiter(window_s=60.0)
    headers = dict(EXHAUSTED) if reset is None else {**EXHAUSTED, "inin-ratelimit-reset": reset}
    limiter.observe(1, 200, headers)
    assert await blocked_for(limiter) == 60.0
    assert limiter.capped == 0


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
    assert times == [times[0], times[0] + 7.0, times[0] + 10.0]


async def test_huge_retry_after_on_the_platform_delays_the_retry_by_the_cap(autojump_clock: trio.abc.Clock) -> None:
    tokens, http = token_client()
    limiter = RateLimiter()
    times: list[float] = []

    def platform(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            return httpx.Response(429, headers={"Retry-After": "99999999999999999999"})
        return httpx.Response(200, json={})

    async with http, httpx.AsyncClient(transport=httpx.MockTransport(platform),
                                       auth=PlatformAuth(tokens, limiter)) as client:
        response = await client.get("https://api.test/x")
    assert response.status_code == 200
    assert times == [times[0], times[0] + MAX_WAIT_S]
    assert limiter.capped == 1


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
    assert trio.current_time() == t0 + 3.0


async def test_never_more_than_the_allowance_in_any_window(autojump_clock: trio.abc.Clock) -> None:
    limiter = RateLimiter(per_window=5, window_s=60.0)
    t0 = trio.current_time()
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire(1)
        starts.append(trio.current_time() - t0)

    async with trio.open_nursery() as nursery:
        for _ in range(17):
            nursery.start_soon(one)
    assert sorted(starts) == [0.0] * 5 + [60.0] * 5 + [120.0] * 5 + [180.0] * 2
    assert limiter.waited_s == 5 * 60.0 + 5 * 120.0 + 2 * 180.0


async def test_exhausted_allowance_headers_block_until_reset(autojump_clock: trio.abc.Clock) -> None:
    limiter = RateLimiter()
    limiter.observe(1, 200, {**EXHAUSTED, "inin-ratelimit-reset": "12"})
    assert await blocked_for(limiter) == 12.0
    limiter.observe(1, 200, {"inin-ratelimit-count": "3", "inin-ratelimit-allowed": "300",
                             "inin-ratelimit-reset": "50"})
    assert await blocked_for(limiter) == 0.0
    # another token's allowance is separate
    limiter.block(1, 100)
    assert await blocked_for(limiter, key=2) == 0.0
    assert await blocked_for(limiter, key=1) == 100.0
