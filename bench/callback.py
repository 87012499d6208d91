"""The proxy's callback as the bench posts to it: the path, the HMAC signature, a signed body.

The signature is computed here (``X-Hub-Signature-256``: HMAC-SHA256 of the raw body, hex), never
imported from the proxy. Bodies are encoded with msgspec: the harness shares two cores with the
proxy it measures, and ``json.dumps`` costs several times more per batch.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec

CALLBACK_PATH = "/api/v1/event-stream/callback"
_encode = msgspec.json.Encoder().encode


def sign(body: bytes, secret: str) -> str:
    """``X-Hub-Signature-256`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_body(envelopes: list[dict[str, Any]] | dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw JSON body and the callback headers (the HMAC is over exactly these bytes)."""
    body = _encode(envelopes)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}
