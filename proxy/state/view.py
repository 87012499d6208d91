"""``QueueView``: the wire shape of one queue (DESIGN 3.5), with derived metrics computed once.

A view is built from a :class:`QueueRecord` (the reducer's memory of one queue) and encoded to
JSON once; every SSE client, ``/api/v1/queues`` and the snapshot share those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from proxy.contract import json_encode
from proxy.state.observation import FLOOR, ROUTING_STATUSES
from proxy.timefmt import iso, iso_or_none

JSON = dict[str, Any]
#: Times up to here are REST stamps of queues never seen live (``FLOOR`` + 1 ms per answer): no update time.
FLOOR_END = FLOOR + timedelta(days=1)


@dataclass(slots=True, eq=True)
class IntervalFigures:
    """Stored interval figures of one (queue, media); absent figures are 0."""

    start: datetime
    end: datetime
    offered: int = 0
    answered: int = 0
    answered_sum_ms: int = 0
    abandoned: int = 0
    handled: int = 0
    handled_sum_ms: int = 0
    sl_numerator: int = 0
    sl_denominator: int = 0
    sl_target: float | None = None


@dataclass(slots=True)
class MediaRecord:
    """What the reducer holds for one (queue, media type); ``times`` holds the platform instant time
    of each instant value (``waiting``, ``interacting``, ``alerting``, ``longest``)."""

    waiting: int = 0
    interacting: int = 0
    alerting: int = 0
    longest_waiting_since: datetime | None = None
    #: When a REST answer established the longest-wait figure (None: from a live message).
    longest_as_of: datetime | None = None
    interval: IntervalFigures | None = None
    times: dict[str, datetime] = field(default_factory=dict)


@dataclass(slots=True)
class QueueRecord:
    """What the reducer holds for one queue."""

    queue_id: str
    name: str | None = None
    division: str | None = None
    media: dict[str, MediaRecord] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROUTING_STATUSES, 0))
    agent_times: dict[str, datetime] = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueView:
    """One queue's view: the JSON-ready dict and its encoded bytes (encoded once)."""

    queue_id: str
    body: JSON
    encoded: bytes


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _interval(record: QueueRecord) -> JSON | None:
    intervals = [m.interval for m in record.media.values() if m.interval is not None]
    if not intervals:
        return None
    newest = max(i.start for i in intervals)
    current = [i for i in intervals if i.start == newest]
    offered = sum(i.offered for i in current)
    answered = sum(i.answered for i in current)
    abandoned = sum(i.abandoned for i in current)
    answered_sum = sum(i.answered_sum_ms for i in current)
    handled = sum(i.handled for i in current)
    handled_sum = sum(i.handled_sum_ms for i in current)
    sl_num = sum(i.sl_numerator for i in current)
    sl_den = sum(i.sl_denominator for i in current)
    target = next((i.sl_target for i in current if i.sl_target is not None), None)
    return {
        "start": iso(newest),
        "end": iso(max(i.end for i in current)),
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "abandonRate": _ratio(abandoned, offered),
        "asaMs": _ratio(answered_sum, answered),
        "handled": handled,
        "ahtMs": _ratio(handled_sum, handled),
        "serviceLevel": _ratio(sl_num, sl_den),
        # the ratio's terms, so that a group's service level is exact (Σ numerators / Σ denominators)
        "serviceLevelNumerator": sl_num,
        "serviceLevelDenominator": sl_den,
        "serviceLevelTarget": target,
    }


def build_view(record: QueueRecord) -> QueueView:
    """Compute the wire view of ``record``: totals over media, earliest wait, interval ratios."""
    media: JSON = {}
    waiting = interacting = alerting = 0
    longest: datetime | None = None
    longest_as_of: datetime | None = None
    for name in sorted(record.media):
        m = record.media[name]
        media[name] = {
            "waiting": m.waiting,
            "interacting": m.interacting,
            "alerting": m.alerting,
            "longestWaitingSince": iso_or_none(m.longest_waiting_since),
        }
        waiting += m.waiting
        interacting += m.interacting
        alerting += m.alerting
        if m.longest_waiting_since is not None and (longest is None or m.longest_waiting_since < longest):
            longest, longest_as_of = m.longest_waiting_since, m.longest_as_of
    body: JSON = {
        "queueId": record.queue_id,
        "name": record.name if record.name is not None else record.queue_id,
        "division": record.division,
        "waiting": waiting,
        "interacting": interacting,
        "alerting": alerting,
        "longestWaitingSince": iso_or_none(longest),
        "longestWaitingAsOf": iso_or_none(longest_as_of),
        "media": media,
        "agents": {status: record.agents.get(status, 0) for status in ROUTING_STATUSES},
        "interval": _interval(record),
        "updatedAt": iso_or_none(record.updated_at if record.updated_at and record.updated_at > FLOOR_END else None),
    }
    return QueueView(record.queue_id, body, json_encode(body))
