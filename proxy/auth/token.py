"""The token manager: one OAuth client-credentials token per process, refreshed ahead of expiry.

Contract (DESIGN 4, platform reference §1):

- ``POST <login>/oauth/token`` with ``Authorization: Basic base64(id:secret)`` and
  ``grant_type=client_credentials`` (RFC 6749 §4.4); the answer's ``expires_in`` sets the lifetime.
  There is no refresh token: a new token is fetched.
- A token is refreshed once its remaining lifetime drops below the grace (``QC_TOKEN_GRACE_S``),
  never later than at 90 % of its lifetime, and never before half of it (a 5-minute token with a
  300 s grace would otherwise be refreshed on every call).
- Single flight: however many callers need a token at once, one request goes out. With a
  :class:`TokenStore` (a Redis cluster) that holds across instances: a fresh stored token is adopted,
  and a refresh lock lets one instance ask while the others wait for what it stores.
- A failed refresh while the old token is still valid keeps the old token and retries after a
  jittered exponential backoff (``Retry-After`` of a 429/503 is honoured as a floor, capped at
  :data:`~proxy.auth.ratelimit.MAX_WAIT_S`; each capped value is counted in ``capped``).
- ``invalid_client`` (and ``unauthorized_client``) is fatal: :class:`~proxy.errors.AuthError`
  with ``fatal=True``, raised to every later caller too; retrying cannot help.
- Neither the client secret nor a token ever appears in a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import msgspec
import trio

from proxy.auth.backoff import Backoff
from proxy.auth.ratelimit import OnCapped, retry_after_s
from proxy.errors import AuthError, StoreUnavailable
from proxy.settings import Secret

log = logging.getLogger("queuecast.upstream.token")

_FATAL_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


@dataclass(frozen=True, slots=True)
class AccessToken:
    """One bearer token. Times are trio's clock (seconds). ``value`` is kept out of ``repr``."""

    value: str = field(repr=False)
    generation: int
    issued_at: float
    expires_at: float
    refresh_at: float

    @property
    def lifetime_s(self) -> float:
        return self.expires_at - self.issued_at


def refresh_lead_s(lifetime_s: float, grace_s: float) -> float:
    """How long before expiry to refresh: the grace, at least 10 % and at most 50 % of the lifetime."""
    return min(max(grace_s, 0.1 * lifetime_s), 0.5 * lifetime_s)


class _TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: float
    token_type: str = "bearer"


class _OAuthError(msgspec.Struct):
    error: str = ""
    error_description: str = ""


class TokenStore(Protocol):
    """Where instances of one cluster share the token (``proxy/cluster/token_store.py``): the token and its
    wall-clock times, and a refresh lock so that one token request is made per cluster per refresh. Never
    the client secret. Every method may raise :class:`~proxy.errors.StoreUnavailable` (then this process
    fetches on its own: a token matters more than sharing it)."""

    async def load(self) -> tuple[str, float, float] | None:
        """``(value, issued_at, expires_at)`` in epoch seconds, or None."""
        ...

    async def save(self, value: str, issued_at: float, expires_at: float) -> None: ...

    async def lock(self, ttl_s: float) -> bool:
        """Take the refresh lock for at most ``ttl_s``; False when another instance holds it."""
        ...

    async def unlock(self) -> None: ...


class TokenManager:
    """Owns the current token. Share one per process; :meth:`token` is safe to call from any task.

    ``http`` is used for the token endpoint only (its own auth is bypassed with Basic credentials).
    ``on_capped`` is called with ``"retry-after"`` each time the endpoint asks for a longer wait
    than :data:`~proxy.auth.ratelimit.MAX_WAIT_S`; ``on_refresh`` after each token request, with
    whether it brought a token.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        grace_s: float = 300.0,
        timeout_s: float = 15.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = trio.current_time,
        on_capped: OnCapped | None = None,
        on_refresh: Callable[[bool], None] | None = None,
        store: TokenStore | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._wall = wall
        self._refused: str | None = None  # a token the platform refused: never adopted from the store
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self.grace_s = grace_s
        self._timeout_s = timeout_s
        self._backoff = backoff or Backoff(initial_s=1.0, max_s=60.0)
        self._clock = clock
        self._on_capped = on_capped
        self._on_refresh = on_refresh
        self._lock = trio.Lock()
        self._token: AccessToken | None = None
        self._fatal: AuthError | None = None
        self._generation = 0
        self.retry_at = -math.inf
        """After a failed refresh: no new attempt before this time (trio clock)."""
        self.requests = 0
        """Token requests sent so far (observability and tests)."""
        self.last_error: str | None = None
        self.shared = 0
        """Tokens adopted from the cluster's store instead of requested."""
        self.capped = 0
        """``Retry-After`` values of the token endpoint cut to the cap so far."""

    @property
    def current(self) -> AccessToken | None:
        """The token held now (possibly due for refresh), without any I/O."""
        return self._token

    @property
    def fatal(self) -> AuthError | None:
        return self._fatal

    def _fresh(self, token: AccessToken | None, now: float) -> bool:
        return token is not None and now < token.refresh_at

    def _usable(self, token: AccessToken | None, now: float) -> bool:
        return token is not None and now < token.expires_at

    async def token(self) -> AccessToken:
        """A valid token, refreshed first when due.

        Raises :class:`AuthError`: ``fatal=True`` for rejected credentials (forever after), otherwise
        when there is no valid token and the endpoint failed (callers back off; this manager also
        spaces its own attempts).
        """
        if self._fatal is not None:
            raise self._fatal
        if self._fresh(self._token, self._clock()):
            assert self._token is not None
            return self._token
        async with self._lock:  # single flight: the first caller fetches, the others find its token
            now = self._clock()
            if self._fatal is not None:
                raise self._fatal
            old = self._token
            if self._fresh(old, now):
                assert old is not None
                return old
            if now < self.retry_at:
                if self._usable(old, now):
                    assert old is not None
                    return old  # backing off: the old token still works
                await trio.sleep_until(self.retry_at)
            return await self._refresh(old)

    async def _shared(self, old: AccessToken | None) -> AccessToken | None:
        """A fresh token another instance stored (None: none, not fresh, or the store is away)."""
        assert self._store is not None
        try:
            found = await self._store.load()
        except StoreUnavailable:
            return None
        if found is None or (old is not None and found[0] == old.value) or found[0] == self._refused:
            return None
        value, issued_wall, expires_wall = found
        now, wall = self._clock(), self._wall()
        lifetime = expires_wall - issued_wall
        token = AccessToken(value=value, generation=self._generation + 1, issued_at=now - (wall - issued_wall),
                            expires_at=now + (expires_wall - wall),
                            refresh_at=now + (expires_wall - wall) - refresh_lead_s(lifetime, self.grace_s))
        if not self._fresh(token, now):
            return None
        self._generation += 1
        self.shared += 1
        log.info("adopted the cluster's access token (generation %d, %.0f s left)", token.generation,
                 token.expires_at - now)
        return token

    async def _fetch_shared(self, old: AccessToken | None) -> AccessToken:
        """With a store: adopt its token if fresh; else take the refresh lock and fetch (and store), or wait
        for the instance that holds the lock and adopt what it stores."""
        store = self._store
        assert store is not None
        for _ in range(int(2 * self._timeout_s / 0.25)):
            shared = await self._shared(old)
            if shared is not None:
                return shared
            try:
                locked = await store.lock(self._timeout_s + 5)
            except StoreUnavailable:
                return await self._fetch()
            if locked:
                try:
                    # the holder before us may have stored its token and let go of the lock between our look
                    # at the store and our taking the lock: look again before asking the platform
                    shared = await self._shared(old)
                    if shared is not None:
                        return shared
                    new = await self._fetch()
                    with contextlib.suppress(StoreUnavailable):
                        wall = self._wall()
                        await store.save(new.value, wall, wall + new.lifetime_s)
                    return new
                finally:
                    with contextlib.suppress(StoreUnavailable):
                        await store.unlock()
            await trio.sleep(0.25)  # another instance is asking the platform: wait for its token
        return await self._fetch()

    async def _refresh(self, old: AccessToken | None) -> AccessToken:
        try:
            new = await (self._fetch() if self._store is None else self._fetch_shared(old))
        except AuthError as exc:
            if self._on_refresh is not None:
                self._on_refresh(False)
            if exc.fatal:
                self._fatal = exc
                self._token = None
                log.error("%s", exc)
                raise
            now = self._clock()
            self.retry_at = max(self.retry_at, now + self._backoff.next())
            self.last_error = str(exc)
            if self._usable(old, now):
                assert old is not None
                log.warning("token refresh failed (%s); keeping the current token for %.0f s more, "
                            "next attempt in %.1f s", exc, old.expires_at - now, self.retry_at - now)
                return old
            log.warning("token request failed (%s); next attempt in %.1f s", exc, self.retry_at - now)
            raise
        if self._on_refresh is not None:
            self._on_refresh(True)
        self._backoff.reset()
        self.retry_at = -math.inf
        self.last_error = None
        self._token = new
        log.info("new access token (generation %d, lifetime %.0f s, refresh in %.0f s)",
                 new.generation, new.lifetime_s, new.refresh_at - new.issued_at)
        return new

    def invalidate(self, token: AccessToken) -> None:
        """The platform refused ``token`` (401 ``bad.credentials``, ``token_revoked``): fetch a new one
        on the next call. A stale report about an already replaced token changes nothing."""
        if self._token is not None and self._token.generation == token.generation:
            self._refused = token.value
            log.warning("access token generation %d was refused by the platform; fetching a new one",
                        token.generation)
            self._token = None
            self.retry_at = -math.inf

    def _note_capped(self, header: str) -> None:
        self.capped += 1
        if self._on_capped is not None:
            self._on_capped(header)

    async def _fetch(self) -> AccessToken:
        started = self._clock()
        self.requests += 1
        try:
            with trio.fail_after(self._timeout_s):
                response = await self._http.post(
                    self._token_url,
                    data={"grant_type": "client_credentials"},
                    auth=httpx.BasicAuth(self._client_id, self._client_secret.reveal()),
                    headers={"Accept": "application/json"},
                )
        except trio.TooSlowError:
            raise AuthError(f"token endpoint did not answer within {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise AuthError(f"token endpoint unreachable ({type(exc).__name__})") from exc
        if response.status_code == 200:
            try:
                body = msgspec.json.decode(response.content, type=_TokenResponse)
            except (msgspec.DecodeError, RecursionError):  # RecursionError: nested thousands deep
                raise AuthError("token endpoint answered 200 without access_token/expires_in") from None
            if body.expires_in <= 0 or not body.access_token:
                raise AuthError("token endpoint answered an empty or already expired token")
            self._generation += 1
            lifetime = float(body.expires_in)
            return AccessToken(
                value=body.access_token,
                generation=self._generation,
                issued_at=started,
                expires_at=started + lifetime,
                refresh_at=started + lifetime - refresh_lead_s(lifetime, self.grace_s),
            )
        try:
            err = msgspec.json.decode(response.content, type=_OAuthError)
        except (msgspec.DecodeError, RecursionError):  # RecursionError: nested thousands deep
            err = _OAuthError()
        if err.error in _FATAL_ERRORS:
            raise AuthError(
                f"OAuth client {self._client_id!r} was rejected by {self._token_url} ({err.error}, HTTP "
                f"{response.status_code}): check QC_CLIENT_ID and QC_CLIENT_SECRET (or QC_CLIENT_SECRET_FILE) "
                "and the region; the upstream is stopped",
                fatal=True,
            )
        if response.status_code in (429, 503):
            self.retry_at = self._clock() + retry_after_s(response.headers, on_capped=self._note_capped)
        reason = f"{err.error}: {err.error_description}" if err.error else response.reason_phrase
        raise AuthError(f"token endpoint answered HTTP {response.status_code} ({reason})")
