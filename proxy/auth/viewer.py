"""Viewer access control (optional, ``QC_VIEWER_JWT_SECRET``): which queues a wallboard may see.

A viewer presents an HS256 JWT as ``Authorization: Bearer …``, ``?access_token=…`` (EventSource
cannot set headers) or the cookie ``qc_viewer``, first found in that order. Claims: ``exp``
(required, seconds since the epoch) and ``queues`` (queue ids, or ``["*"]`` for every queue).
Only HS256 is accepted: ``alg: none``, RS256 and the rest are refused before any key is used.

Protocol-independent: :meth:`ViewerGate.authorize` takes header and query mappings and returns a
:class:`Viewer` or raises :class:`~proxy.errors.Unauthorized` with a reason that never contains the
token. With no secret configured the gate is open and every request is :data:`EVERYONE`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from proxy.errors import Unauthorized
from proxy.settings import MIN_VIEWER_SECRET_BYTES, Secret

ALGORITHM = "HS256"
COOKIE = "qc_viewer"
QUERY_PARAMETER = "access_token"
ALL_QUEUES = "*"
#: A token longer than this is refused unread (a queue list of a few hundred ids fits easily).
MAX_TOKEN_CHARS = 16_384
#: Verified tokens remembered (a reconnect storm presents the same few tokens thousands of times; a
#: verification costs tens of microseconds). Oldest forgotten first.
VERIFIED_CACHE = 4096


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the queues they may see (None = every queue) and when their token expires."""

    queues: frozenset[str] | None
    #: Seconds since the epoch (wall clock); ``math.inf`` when access control is off.
    expires_at: float

    def restrict(self, requested: frozenset[str] | None) -> frozenset[str] | None:
        """The queues to show for a request asking for ``requested`` (None = all): never more than the
        token allows, whatever was asked. May be empty."""
        if self.queues is None:
            return requested
        if requested is None:
            return self.queues
        return requested & self.queues

    def seconds_left(self, now: float | None = None) -> float:
        """Seconds until the token expires (``math.inf`` without access control)."""
        return self.expires_at - (time.time() if now is None else now)


#: The viewer of every request when access control is off.
EVERYONE = Viewer(queues=None, expires_at=math.inf)


class ViewerGate:
    """Checks viewer tokens against ``secret``; open (everyone sees everything) when it is None."""

    def __init__(self, secret: Secret | None, *, clock: Callable[[], float] = time.time) -> None:
        if secret is not None and len(secret.reveal().encode()) < MIN_VIEWER_SECRET_BYTES:
            raise ValueError(f"an HS256 viewer key needs at least {MIN_VIEWER_SECRET_BYTES} bytes")
        self._key = secret.reveal().encode() if secret is not None else None
        self._clock = clock
        self._verified: dict[str, Viewer] = {}

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def authorize(self, headers: Mapping[str, str], query: Mapping[str, Sequence[str]]) -> Viewer:
        """The viewer of a request, from its headers (names in any case) and its parsed query string
        (``parse_qs`` shape: name → values). Raises :class:`Unauthorized` naming what is wrong."""
        if self._key is None:
            return EVERYONE
        token = token_of(headers, query)
        if token is None:
            raise Unauthorized("missing access token (Authorization: Bearer, ?access_token= or cookie qc_viewer)")
        return self.verify(token)

    def verify(self, token: str) -> Viewer:
        """The viewer a token stands for; raises :class:`Unauthorized`."""
        if self._key is None:
            return EVERYONE
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= self._clock():
                del self._verified[token]
                raise Unauthorized("access token expired")
            return known
        viewer = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = viewer
        return viewer

    def _verify(self, token: str) -> Viewer:
        assert self._key is not None
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("access token too long")
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError:
            raise Unauthorized("malformed access token") from None
        if alg != ALGORITHM:
            raise Unauthorized(f"access token algorithm must be {ALGORITHM}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], leeway=0,
                options={"require": ["exp"], "verify_exp": False},  # exp is checked below, on our clock
            )
        except jwt.MissingRequiredClaimError:
            raise Unauthorized("access token has no exp claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("access token signature does not verify") from None
        except jwt.InvalidTokenError:  # bad base64/JSON, non-numeric exp, nbf/iat in the future, ...
            raise Unauthorized("malformed access token") from None
        expires_at = claims["exp"]
        if isinstance(expires_at, bool) or not isinstance(expires_at, int | float) or not math.isfinite(expires_at):
            raise Unauthorized("access token exp must be a number of seconds")
        if expires_at <= self._clock():
            raise Unauthorized("access token expired")
        return Viewer(queues=_queues_claim(claims.get("queues")), expires_at=float(expires_at))

    def issue(self, queues: Sequence[str], *, ttl_s: float) -> str:
        """A token for ``queues`` (ids, or ``["*"]``) valid for ``ttl_s`` seconds (``queuecast viewer-token``)."""
        if self._key is None:
            raise ValueError("no viewer key configured")
        listed = list(queues)
        _queues_claim(listed)  # refuse what verify would refuse
        if not ttl_s > 0:
            raise ValueError("ttl must be positive")
        now = self._clock()
        return jwt.encode({"queues": listed, "iat": int(now), "exp": int(now + ttl_s)}, self._key,
                          algorithm=ALGORITHM)


def refusal(exc: Unauthorized) -> tuple[int, list[tuple[str, str]], bytes]:
    """The 401 answer to a refused viewer: status, headers (add CORS) and a JSON body (RFC 6750)."""
    body = json.dumps({"error": "unauthorized", "message": exc.reason}).encode()
    return 401, [("WWW-Authenticate", 'Bearer realm="queuecast", error="invalid_token"'),
                 ("Content-Type", "application/json"), ("Cache-Control", "no-store")], body


def _queues_claim(value: object) -> frozenset[str] | None:
    if not isinstance(value, list) or not value:
        raise Unauthorized('access token queues claim must be a non-empty list of queue ids, or ["*"]')
    if not all(isinstance(q, str) and q and len(q) <= 256 for q in value):
        raise Unauthorized("access token queues claim must hold queue ids (non-empty strings)")
    if ALL_QUEUES in value:
        if len(value) != 1:
            raise Unauthorized('access token queues claim: "*" must stand alone')
        return None
    return frozenset(value)


def token_of(headers: Mapping[str, str], query: Mapping[str, Sequence[str]]) -> str | None:
    """The token a request carries: a Bearer ``Authorization`` header, else ``?access_token=``, else the
    ``qc_viewer`` cookie. Another ``Authorization`` scheme (e.g. a front proxy's Basic) is ignored."""
    authorization = _header(headers, "authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    values = query.get(QUERY_PARAMETER)
    if values:
        return values[-1].strip() or None
    cookies = _header(headers, "cookie")
    if cookies is not None:
        for part in cookies.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == COOKIE and value.strip('"'):
                return value.strip('"')
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a mapping with case-preserving names (a plain dict of the original headers)
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value
