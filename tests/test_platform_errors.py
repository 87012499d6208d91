"""``Platform`` translates every failure at its boundary: callers see ``PlatformError``, ``RateLimited``
or ``AuthError`` only, with texts that name the call and never carry a token or the client secret.

The platform is an ``httpx.MockTransport`` behind the real ``PlatformAuth``/``TokenManager`` (so real
bearer tokens are on the wire and could leak); nothing is patched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import msgspec
import pytest
import trio

from proxy.auth.bearer import PlatformAuth
from proxy.auth.ratelimit import MAX_WAIT_S, RateLimiter
from proxy.auth.token import TokenManager
from proxy.errors import AuthError, PlatformError, RateLimited
from proxy.settings import Secret
from proxy.upstream.platform import Platform

CLIENT_SECRET = "client-secret-9f3b7c1e"
API = "https://api.example.test"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Rig:
    platform: Platform
    limiter: RateLimiter
    issued: list[str]
    """Bearer tokens handed out by the login endpoint."""
    requests: list[httpx.Request] = field(default_factory=list)
    """What reached the platform."""
    authorizations: list[str] = field(default_factory=list)
    """Their ``Authorization`` headers as sent (a retried request object is reused)."""


@asynccontextmanager
async def connect(handler: Handler, *, max_429_retries: int = 0) -> AsyncIterator[Rig]:
    """A ``Platform`` whose API is ``handler``, authenticated like in production."""
    issued: list[str] = []

    def login(request: httpx.Request) -> httpx.Response:
        value = f"bearer-{len(issued) + 1}-5d1e8a0c4b"
        issued.append(value)
        return httpx.Response(200, json={"access_token": value, "expires_in": 86400})

    requests: list[httpx.Request] = []
    authorizations: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        authorizations.append(request.headers["authorization"])
        return handler(request)

    limiter = RateLimiter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(login)) as login_http:
        tokens = TokenManager(http=login_http, token_url="https://login.example.test/oauth/token",
                              client_id="cid", client_secret=Secret(CLIENT_SECRET))
        auth = PlatformAuth(tokens, limiter, max_429_retries=max_429_retries)
        async with httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(api), auth=auth) as http:
            yield Rig(Platform(http), limiter, issued, requests, authorizations)


def assert_no_secrets(exc: BaseException, rig: Rig) -> None:
    """Neither the client secret nor any bearer token in the error, its repr or its causes."""
    assert rig.issued, "no token was issued: the check would be vacuous"
    assert rig.authorizations and all(a.startswith("Bearer ") for a in rig.authorizations)
    texts: list[str] = []
    cause: BaseException | None = exc
    while cause is not None:
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    for text in texts:
        assert CLIENT_SECRET not in text
        assert not any(token in text for token in rig.issued), text


def answer(status: int, *, headers: dict[str, str] | None = None, json: object = None,
           content: bytes | None = None) -> Handler:
    """A platform that always gives the same answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, json=json, content=content)

    return handler


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError])
async def test_transport_error_is_a_platform_error_with_status_0_and_its_cause(
    error: type[httpx.TransportError],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("connection reset by peer", request=request)

    async with connect(handler) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.list_event_subscriptions()
    exc = info.value
    assert type(exc) is PlatformError
    assert (exc.status, exc.code) == (0, "")
    assert isinstance(exc.__cause__, error)
    assert "GET /api/v2/events/subscriptions" in str(exc) and error.__name__ in str(exc)
    assert_no_secrets(exc, rig)


@pytest.mark.parametrize(
    ("headers", "retry_after_s", "capped"),
    [({"Retry-After": "7"}, 7.0, 0), ({}, 3.0, 0), ({"Retry-After": "1e9"}, MAX_WAIT_S, 1),
     ({"Retry-After": "99999999999999999999"}, MAX_WAIT_S, 1)],
)
async def test_429_is_rate_limited_with_the_capped_retry_after(
    headers: dict[str, str], retry_after_s: float, capped: int
) -> None:
    body = {"message": "Rate limit exceeded the maximum", "code": "too.many.requests.retry.after", "status": 429}
    async with connect(answer(429, headers=headers, json=body)) as rig:
        with pytest.raises(RateLimited) as info:
            await rig.platform.create_channel()
    assert info.value.retry_after_s == retry_after_s
    assert rig.limiter.capped == capped  # counted once: by the limiter, not again by Platform
    assert len(rig.requests) == 1
    assert_no_secrets(info.value, rig)


async def test_429_storm_waits_the_cap_between_retries_then_is_rate_limited(autojump_clock: trio.abc.Clock) -> None:
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        return httpx.Response(429, headers={"Retry-After": "99999999999999999999"})

    async with connect(handler, max_429_retries=2) as rig:
        with pytest.raises(RateLimited) as info:
            await rig.platform.create_channel()
    assert info.value.retry_after_s == MAX_WAIT_S
    assert times == [times[0], times[0] + MAX_WAIT_S, times[0] + 2 * MAX_WAIT_S]
    assert rig.limiter.capped == 3


async def test_401_even_with_a_new_token_is_an_auth_error() -> None:
    body = {"message": "Invalid login credentials.", "code": "bad.credentials", "status": 401}
    async with connect(answer(401, json=body)) as rig:
        with pytest.raises(AuthError) as info:
            await rig.platform.list_queues()
    exc = info.value
    assert not exc.fatal
    assert "GET /api/v2/routing/queues" in str(exc) and "401 bad.credentials" in str(exc)
    # retried once with a second token before giving up
    assert len(rig.issued) == 2
    assert rig.authorizations == [f"Bearer {t}" for t in rig.issued]
    assert_no_secrets(exc, rig)


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "internal.server.error"), (400, "bad.request"), (403, "missing.permissions")],
)
async def test_error_body_names_status_and_code(status: int, code: str) -> None:
    body = {"message": "Something went wrong", "code": code, "status": status, "contextId": "c0ffee"}
    async with connect(answer(status, json=body)) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.observations_query({"filter": {}})
    exc = info.value
    assert type(exc) is PlatformError
    assert (exc.status, exc.code) == (status, code)
    text = str(exc)
    assert "POST /api/v2/analytics/queues/observations/query" in text
    assert f"HTTP {status}" in text and code in text and "Something went wrong" in text
    assert_no_secrets(exc, rig)


@pytest.mark.parametrize(
    "content",
    [b"<html><body>502 Bad Gateway</body></html>", b"", b'["not", "an", "error body"]', b'{"code": 5}',
     b'{"message": "truncated',
     b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"],  # an unknown field nested thousands deep: not a crash
)
async def test_error_body_that_is_not_an_error_body_falls_back_to_the_reason(content: bytes) -> None:
    async with connect(answer(502, content=content)) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.put_subscriptions("ch-1", ["v2.routing.queues.q1.conversations"])
    exc = info.value
    assert (exc.status, exc.code) == (502, "")
    assert str(exc) == "PUT /api/v2/notifications/channels/ch-1/subscriptions: HTTP 502 (Bad Gateway)"
    assert_no_secrets(exc, rig)


@pytest.mark.parametrize(
    ("call", "content"),
    [
        ("create channel", b'{"unexpected": true}'),
        ("create channel", b"OK"),
        ("list subscriptions", b'{"entities": "none"}'),
        ("list queues", b'{"entities": [{"name": "no id"}]}'),
        ("create channel", b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),  # a hostile depth: not a crash
    ],
)
async def test_200_with_an_unexpected_body_is_a_platform_error(call: str, content: bytes) -> None:
    async with connect(answer(200, content=content)) as rig:
        with pytest.raises(PlatformError) as info:
            if call == "create channel":
                await rig.platform.create_channel()
            elif call == "list subscriptions":
                await rig.platform.list_event_subscriptions()
            else:
                await rig.platform.list_queues()
    exc = info.value
    assert type(exc) is PlatformError
    assert exc.status == 200
    assert str(exc).startswith(f"{call}: unexpected response")
    assert isinstance(exc.__cause__, msgspec.DecodeError | RecursionError)
    assert_no_secrets(exc, rig)


@pytest.mark.parametrize(("status", "exists"), [(200, True), (404, False)])
async def test_channel_exists_is_false_only_on_404(status: int, exists: bool) -> None:
    async with connect(answer(status)) as rig:
        assert await rig.platform.channel_exists("ch-7") is exists
    [request] = rig.requests
    assert (request.method, request.url.path) == ("HEAD", "/api/v2/notifications/channels/ch-7")


async def test_channel_exists_does_not_mistake_other_failures_for_a_missing_channel() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with connect(answer(500)) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.channel_exists("ch-7")
    assert info.value.status == 500
    async with connect(unreachable) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.channel_exists("ch-7")
    assert info.value.status == 0


@pytest.mark.parametrize("status", [204, 404])
async def test_delete_event_subscription_succeeds_or_swallows_404(status: int) -> None:
    async with connect(answer(status)) as rig:
        await rig.platform.delete_event_subscription("sub-3")  # no error
    [request] = rig.requests
    assert (request.method, request.url.path) == ("DELETE", "/api/v2/events/subscriptions/sub-3")


async def test_delete_event_subscription_raises_other_errors() -> None:
    async with connect(answer(500, json={"code": "internal.server.error", "message": "boom"})) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.delete_event_subscription("sub-3")
    assert (info.value.status, info.value.code) == (500, "internal.server.error")
    assert_no_secrets(info.value, rig)


async def test_an_error_body_echoing_the_authorization_header_does_not_leak_the_token() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": "bad.request",
                                         "message": f"malformed header: {request.headers['authorization']}"})

    async with connect(echo) as rig:
        with pytest.raises(PlatformError) as info:
            await rig.platform.create_channel()
    assert_no_secrets(info.value, rig)
