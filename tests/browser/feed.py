"""Callback envelopes that put queues on a board: what the browser tests feed the proxy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import envelope, iso

_clock = [0]


def _observed() -> int:
    """observedAt offsets that only grow, so no update is dropped as stale."""
    _clock[0] += 1000
    return _clock[0]


page_now: list[datetime | None] = [None]


def ago(seconds: float) -> str:
    """An instant ``seconds`` ago, by the page's clock when a test fakes it."""
    return iso((page_now[0] or datetime.now(UTC)) - timedelta(seconds=seconds))


def queue_state(queue_id: str, name: str, *, media: str = "voice", waiting: int = 0, longest_s: float | None = None,
           interval: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"oWaiting": waiting, "queueName": name,
                             "oLongestWaiting": None if longest_s is None else ago(longest_s), **fields}
    if interval is not None:
        extra["interval"] = interval
    return envelope(queue_id, media=media, observed_ms=_observed(), **extra)


def interval_figures(offered: int, answered: int, abandoned: int, sl: tuple[int, int], target: float) -> dict[str, Any]:
    return {"start": "2026-11-27T21:00:00.000Z", "end": "2026-11-27T21:30:00.000Z", "nOffered": offered,
            "tAnswered": {"count": answered, "sum": answered * 21_000}, "tAbandon": {"count": abandoned, "sum": 0},
            "tHandle": {"count": answered, "sum": answered * 245_000},
            "oServiceLevel": {"numerator": sl[0], "denominator": sl[1], "target": target}}
