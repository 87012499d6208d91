"""Times on the wire, as the bench writes and reads them: epoch milliseconds ↔ RFC 3339.

The platform (and the proxy) write ``2026-11-27T21:00:00.123Z``: UTC, milliseconds, ``Z``.
Statistics intervals are 30 minutes aligned to the hour in UTC (``granularity: PT30M``).
"""

from __future__ import annotations

from datetime import UTC, datetime

INTERVAL_MS = 30 * 60 * 1000
"""The platform's statistics interval."""

_iso_cache: dict[int, str] = {}
_parse_cache: dict[str, float] = {}


def iso_ms(t_ms: int) -> str:
    """``2026-11-27T21:00:00.123Z`` for epoch milliseconds (memoised per second: the bench writes many)."""
    sec, ms = divmod(t_ms, 1000)
    prefix = _iso_cache.get(sec)
    if prefix is None:
        if len(_iso_cache) > 4096:
            _iso_cache.clear()
        prefix = _iso_cache[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{prefix}{ms:03d}Z"


def parse_iso_s(text: str) -> float:
    """Epoch seconds of an RFC 3339 time (memoised: every client sees the same few strings)."""
    value = _parse_cache.get(text)
    if value is None:
        if len(_parse_cache) > 100_000:
            _parse_cache.clear()
        value = _parse_cache[text] = datetime.fromisoformat(text).timestamp()
    return value


def interval_start_ms(t_ms: int) -> int:
    """Start of the 30-minute statistics interval that contains ``t_ms``."""
    return t_ms - t_ms % INTERVAL_MS
