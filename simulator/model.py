"""Value types of the world's change stream: what the transports carry and the truth is built from.

All times are integer epoch milliseconds of *simulated* time; durations are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MEDIA_TYPES: Final = ("voice", "chat")
ROUTING_STATUSES: Final = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
INTERVAL_MS: Final = 30 * 60 * 1000


def interval_start(t_ms: int) -> int:
    """Start of the 30-minute interval (aligned to the epoch, hence to UTC half hours) holding ``t_ms``."""
    return t_ms - t_ms % INTERVAL_MS


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue's static configuration."""

    queue_id: str
    name: str
    media: tuple[str, ...]
    sl_target: float
    """Service-level target ratio, e.g. 0.8."""
    sl_threshold_ms: int
    """An interaction answered within this many ms counts towards the service level."""


@dataclass(frozen=True, slots=True)
class IntervalStats:
    """The 30-minute interval statistics of one (queue, mediaType)."""

    start_ms: int
    end_ms: int
    offered: int = 0
    answered: int = 0
    answered_sum_ms: int = 0
    abandoned: int = 0
    abandoned_sum_ms: int = 0
    sl_numerator: int = 0
    sl_denominator: int = 0
    sl_target: float = 0.8


@dataclass(frozen=True, slots=True)
class MediaState:
    """Absolute observation values of one (queue, mediaType)."""

    waiting: int
    interacting: int
    alerting: int
    longest_waiting_ms: int | None
    """Offer time of the oldest waiting interaction, None when nobody waits."""
    interval: IntervalStats


AgentCounts = tuple[tuple[str, int], ...]
"""Routing-status counts of a queue's members, in ``ROUTING_STATUSES`` order, all five present."""


@dataclass(frozen=True, slots=True)
class QueueChange:
    """Everything one world step changed for one queue, with the queue's full current state.

    ``observed_at_ms`` strictly increases per queue across changes (hence per (queue, mediaType)).
    ``changed_media`` lists the media whose values changed (possibly empty when only agents did).
    """

    queue: QueueInfo
    observed_at_ms: int
    media: dict[str, MediaState]
    changed_media: tuple[str, ...]
    agents: AgentCounts
    agents_changed: bool

    @property
    def eventbus_media(self) -> tuple[str, ...]:
        """Media that get a queue-update envelope: the changed ones, or the first when only agents changed."""
        if self.changed_media:
            return self.changed_media
        return (self.queue.media[0],) if self.agents_changed else ()


@dataclass(frozen=True, slots=True)
class WaitingDetail:
    """One waiting interaction, for ``detailMetrics: ["oWaiting"]``."""

    conversation_id: str
    offered_ms: int
