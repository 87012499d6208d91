"""The one normalized input of the state core: :class:`QueueObservation`.

Every upstream shape (Event Bus ``queueState``, Notifications/EventBridge observation
bodies, REST backfill) is translated into these at the edge, so the reducer knows one type.
They are frozen ``msgspec.Struct``s rather than frozen dataclasses: one is built per event, and a
frozen dataclass's ``__init__`` costs several times more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final, final

import msgspec

ROUTING_STATUSES: Final = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
#: The oldest time an observation may carry. A REST answer (which has no time of its own) about a
#: queue never seen live is stamped with it, so every live message wins over it.
FLOOR: Final = datetime(2000, 1, 1, tzinfo=UTC)

#: The platform's statistics interval (``granularity: PT30M``, aligned to the hour in UTC).
INTERVAL: Final = timedelta(minutes=30)


def interval_containing(moment: datetime) -> tuple[datetime, datetime]:
    """The 30-minute statistics interval ``[start, end)`` that contains ``moment``."""
    start = moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)
    return start, start + INTERVAL


@final
class Unchanged:
    """Marker type: the observation does not speak about this field (absent on the wire)."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()


class IntervalObservation(msgspec.Struct, frozen=True):
    """Figures of one (queue, media) for one statistics interval (usually 30 minutes), keyed by ``start``.

    An interval message carries the interval's figures so far; a metric with nothing to count is
    absent (``None`` here), which counts as 0. Counts only grow within an interval, so the reducer
    keeps the larger of stored and seen: a late or duplicated message never lowers a figure.
    Durations are milliseconds.
    """

    start: datetime
    end: datetime
    offered: int | None = None
    answered: int | None = None
    answered_sum_ms: int | None = None
    abandoned: int | None = None
    handled: int | None = None
    handled_sum_ms: int | None = None
    sl_numerator: int | None = None
    sl_denominator: int | None = None
    sl_target: float | None = None


class QueueObservation(msgspec.Struct, frozen=True):
    """What one message says about one (queue, media type): instant values and/or interval figures.

    ``observed_at`` is the platform's instant time of the instant values (``None``: the message has
    none, only interval figures). Instant fields that are ``None`` are unchanged (a real instant
    message carries only the metrics that changed); each is applied on its own when ``observed_at``
    is newer than the time of that metric's stored value.
    ``media_type`` is ``None`` for a queue-level observation (agent routing statuses only).
    ``longest_waiting_since`` is :data:`UNCHANGED` when absent and ``None`` when nobody waits.
    ``agents`` maps routing statuses to counts; a status not listed is unchanged unless
    ``agents_whole`` (the REST query and the guide's topic list the whole set, zero counts omitted).
    """

    queue_id: str
    media_type: str | None
    observed_at: datetime | None
    name: str | None = None
    #: The name of the queue's division (from the routing API, like ``name``); None: not said.
    division: str | None = None
    waiting: int | None = None
    interacting: int | None = None
    alerting: int | None = None
    longest_waiting_since: datetime | Unchanged | None = UNCHANGED
    #: When a REST answer established ``longest_waiting_since`` (the proxy's clock, for display only:
    #: the board shows a figure older than live). ``None``: from a live message, as of ``observed_at``.
    longest_as_of: datetime | None = None
    agents: Mapping[str, int] | None = None
    agents_whole: bool = False
    interval: IntervalObservation | None = None
