"""``PlatformAuth``: the ``httpx.Auth`` of the platform API client.

For every request: take the current token from the :class:`~proxy.auth.token.TokenManager`, wait
for the token's rate-limit allowance, attach ``Authorization: Bearer``. On a ``401``
(``bad.credentials``: expired or revoked token) the token is invalidated and the request retried
once with a new one. On a ``429`` the token is blocked for ``Retry-After`` (default 3 s, at most
:data:`~proxy.auth.ratelimit.MAX_WAIT_S`) and the request retried, at most ``max_429_retries``
times; the last 429 is returned to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from proxy.auth.ratelimit import RateLimiter
from proxy.auth.token import TokenManager


class PlatformAuth(httpx.Auth):
    def __init__(self, tokens: TokenManager, limiter: RateLimiter, *, max_429_retries: int = 5,
                 on_retry: Callable[[int], None] | None = None) -> None:
        """``on_retry`` is called with the status (401 or 429) of each answer that is retried."""
        self.tokens = tokens
        self._on_retry = on_retry
        self.limiter = limiter
        self.max_429_retries = max_429_retries
        self.retried_401 = 0
        self.retried_429 = 0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("PlatformAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover  # makes this a generator, as httpx expects

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.token()
        refreshed = False
        throttled = 0
        while True:
            await self.limiter.acquire(token.generation)
            request.headers["Authorization"] = f"Bearer {token.value}"
            response = yield request
            self.limiter.observe(token.generation, response.status_code, response.headers)
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.retried_401 += 1
                if self._on_retry is not None:
                    self._on_retry(401)
                self.tokens.invalidate(token)
                token = await self.tokens.token()
                continue
            if response.status_code == 429 and throttled < self.max_429_retries:
                throttled += 1
                self.retried_429 += 1
                if self._on_retry is not None:
                    self._on_retry(429)
                continue  # observe() blocked the token for Retry-After; acquire() waits it out
            return
