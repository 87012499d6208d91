"""The one normalized input of the state core: :class:`QueueObservation`.

Every upstream shape (Event Bus ``queueState``, Notifications/EventBridge observation
bodies, REST backfill) is translated into these at the edge, so the reducer knows one type.
They are frozen ``msgspec.Struct``s rather than frozen dataclasses: one is built per event, and a
frozen dataclass's ``__init__`` costs several times more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, final

import msgspec

ROUTING_STATUSES: Final = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")


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
    """Figures of one (queue, media) for one statistics interval (usually 30 minutes).

    ``None`` means the field was absent; inside the same interval the stored value is kept.
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
    """Absolute values for one (queue, media type) at ``observed_at``; ``None`` fields are unchanged.

    ``media_type`` is ``None`` for a queue-level observation (agent routing statuses only).
    ``longest_waiting_since`` is :data:`UNCHANGED` when absent and ``None`` when nobody waits.
    ``agents``, when present, is the whole set of routing-status counts (a status not listed is 0).
    """

    queue_id: str
    media_type: str | None
    observed_at: datetime
    name: str | None = None
    waiting: int | None = None
    interacting: int | None = None
    alerting: int | None = None
    longest_waiting_since: datetime | Unchanged | None = UNCHANGED
    agents: Mapping[str, int] | None = None
    interval: IntervalObservation | None = None
