"""Callback authentication: HMAC-SHA256 over the raw body, or a static API key (EventBridge)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from proxy.settings import Secret

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_NAME = SIGNATURE_HEADER.lower()


def sign(body: bytes, secret: str) -> str:
    """The header value a sender puts in ``X-Hub-Signature-256`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class CallbackAuth:
    """Checks a callback's headers. With neither secret nor key configured (demo mode) it allows all."""

    def __init__(self, *, secret: Secret | None, api_key: Secret | None, api_key_header: str) -> None:
        self._secret = secret.reveal().encode() if secret is not None else None
        self._api_key = api_key.reveal().encode() if api_key is not None else None
        self._api_key_header = api_key_header
        self._api_key_name = api_key_header.lower()

    @property
    def open(self) -> bool:
        return self._secret is None and self._api_key is None

    def check(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """None when authentic; otherwise the reason (safe to show: it never contains a secret).

        ``headers`` has lower-case names (as ASGI delivers them).
        """
        if self.open:
            return None
        if self._api_key is not None:
            offered = headers.get(self._api_key_name)
            if offered is not None:
                if hmac.compare_digest(offered.encode(), self._api_key):
                    return None
                return f"bad {self._api_key_header}"
        if self._secret is not None:
            signature = headers.get(_SIGNATURE_NAME)
            if signature is None:
                return f"missing {SIGNATURE_HEADER}"
            expected = b"sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest().encode()
            if hmac.compare_digest(signature.strip().encode(), expected):
                return None
            return f"bad {SIGNATURE_HEADER}"
        return f"missing {self._api_key_header}"
