"""Client-credentials tokens: issue, check, expire, revoke; and the token endpoint's outage switch.

Times are real (``trio.current_time()``), because the proxy measures token lifetimes in real time.
"""

from __future__ import annotations

import base64
import binascii
import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import trio


class TokenProblem(enum.Enum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(slots=True)
class Token:
    value: str
    client_id: str
    expires_at: float
    """``trio.current_time()`` at which the token stops working."""
    revoked: bool = False


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic base64(id:secret)`` → (id, secret), None when absent or malformed."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def parse_bearer(header: str | None) -> str | None:
    if not header or not header.lower().startswith("bearer "):
        return None
    return header[7:].strip() or None


class TokenStore:
    """All tokens ever issued by this simulator run (bounded by what clients ask for)."""

    def __init__(self, *, ttl_s: int, clock: Callable[[], float] = trio.current_time) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._tokens: dict[str, Token] = {}
        self._outage_until = 0.0
        self.on_invalidated: list[Callable[[str, str], None]] = []
        """Called with (token value, reason) when tokens are revoked or force-expired."""

    def issue(self, client_id: str) -> Token:
        token = Token(secrets.token_urlsafe(32), client_id, self._clock() + self.ttl_s)
        self._tokens[token.value] = token
        return token

    def check(self, value: str | None) -> Token | TokenProblem:
        """The live token for ``value``, or why it is not usable."""
        token = self._tokens.get(value) if value else None
        if token is None:
            return TokenProblem.UNKNOWN
        if token.revoked:
            return TokenProblem.REVOKED
        if self._clock() >= token.expires_at:
            return TokenProblem.EXPIRED
        return token

    def is_live(self, value: str) -> bool:
        return isinstance(self.check(value), Token)

    def expire_all(self) -> int:
        """Make every live token expired now; returns how many were live."""
        now = self._clock()
        n = 0
        for token in self._tokens.values():
            if not token.revoked and token.expires_at > now:
                token.expires_at = now
                n += 1
                for callback in self.on_invalidated:
                    callback(token.value, "expired")
        return n

    def revoke_all(self) -> int:
        """Revoke every live token; returns how many were live."""
        now = self._clock()
        n = 0
        for token in self._tokens.values():
            if not token.revoked and token.expires_at > now:
                token.revoked = True
                n += 1
                for callback in self.on_invalidated:
                    callback(token.value, "revoked")
        return n

    def take_down(self, seconds: float) -> None:
        """The token endpoint answers 503 for the next ``seconds`` real seconds."""
        self._outage_until = self._clock() + seconds

    def outage_remaining(self) -> float:
        return max(0.0, self._outage_until - self._clock())
