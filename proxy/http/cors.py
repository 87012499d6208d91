"""Exact-origin CORS allowlist (``QC_CORS_ORIGINS``), pure so that it is testable without a server.

A preflight from an origin not on the list gets 403 and no CORS headers; a simple GET from such
an origin is served without ``Access-Control-Allow-Origin`` (the browser then hides the response).
``Last-Event-ID`` is an allowed request header so EventSource polyfills can resume cross-origin, and
``Authorization`` so a page on another origin can present a viewer token (``docs/wallboard.md``).
"""

from __future__ import annotations

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Last-Event-ID, Content-Type, Cache-Control, Authorization"


class CorsPolicy:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(o for o in origins if o != "*")

    def allows(self, origin: str) -> bool:
        return self._any or origin in self._origins

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """Headers for an actual (non-preflight) response; empty when the origin is not allowed."""
        if origin is None or not self.allows(origin):
            return [("Vary", "Origin")] if origin is not None else []
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]

    def preflight(self, origin: str | None) -> tuple[int, list[tuple[str, str]]]:
        """Status and headers for an ``OPTIONS`` preflight."""
        if origin is None or not self.allows(origin):
            return 403, [("Vary", "Origin")]
        return 204, [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", ALLOW_METHODS),
            ("Access-Control-Allow-Headers", ALLOW_HEADERS),
            ("Access-Control-Max-Age", "600"),
            ("Vary", "Origin"),
        ]
