"""Callback authentication: HMAC-SHA256 over the raw body, or a static API key (EventBridge).

During a secret rotation (``QC_CALLBACK_SECRET_PREVIOUS``) a signature made with either the new or the
previous secret is accepted: deliveries already signed (or in flight) when the platform switched keep
landing, and the Event Bus upstream moves its subscription to the new secret at start-up.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from proxy.settings import Secret

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_NAME = SIGNATURE_HEADER.lower()


def sign(body: bytes, secret: str | bytes) -> str:
    """The header value a sender puts in ``X-Hub-Signature-256`` for ``body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class CallbackAuth:
    """Checks a callback's headers. With neither secret nor key configured (demo mode) it allows all."""

    def __init__(self, *, secret: Secret | None, api_key: Secret | None, api_key_header: str,
                 previous: Secret | None = None) -> None:
        self._secret = secret.reveal().encode() if secret is not None else None
        #: Every secret a signature may be made with: the current one first, then the previous one.
        self._secrets = tuple(s.reveal().encode() for s in (secret, previous if secret is not None else None)
                              if s is not None)
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
            given = signature.strip().encode()
            # every key is checked: the time taken does not tell which one matched
            matches = [hmac.compare_digest(given, sign(body, key).encode()) for key in self._secrets]
            if any(matches):
                return None
            return f"bad {SIGNATURE_HEADER}"
        return f"missing {self._api_key_header}"
