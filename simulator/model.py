"""Value types of the world's change stream: what the transports carry and the truth is built from.

All times are integer epoch milliseconds of *simulated* time; durations are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

MEDIA_TYPES: Final = ("voice", "chat")
ROUTING_STATUSES: Final = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
INTERVAL_MS: Final = 30 * 60 * 1000


def interval_start(t_ms: int) -> int:
    """Start of the 30-minute interval (aligned to the epoch, hence to UTC half hours) holding ``t_ms``."""
    return t_ms - t_ms % INTERVAL_MS


@dataclass(frozen=True, slots=True)
class Division:
    """An authorization division: what the routing API's queue entity carries as ``division``."""

    division_id: str
    name: str


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
    division: Division


@dataclass(frozen=True, slots=True)
class Durations:
    """Count, sum, min and max (ms) of one duration metric (``tAnswered``, ``tHandle``, …)."""

    count: int = 0
    sum_ms: int = 0
    min_ms: int = 0
    """Smallest duration; 0 while ``count`` is 0."""
    max_ms: int = 0

    def plus(self, ms: int) -> Durations:
        """These durations with one more, of ``ms``."""
        if not self.count:
            return Durations(1, ms, ms, ms)
        return Durations(self.count + 1, self.sum_ms + ms, min(self.min_ms, ms), max(self.max_ms, ms))

    def merged(self, other: Durations) -> Durations:
        """The union of two sets of durations (e.g. two media of one queue)."""
        if not other.count:
            return self
        if not self.count:
            return other
        return Durations(
            self.count + other.count,
            self.sum_ms + other.sum_ms,
            min(self.min_ms, other.min_ms),
            max(self.max_ms, other.max_ms),
        )


@dataclass(frozen=True, slots=True)
class IntervalStats:
    """The 30-minute interval statistics of one (queue, mediaType).

    Each duration is recorded in the interval in which it ends: ``t_answered`` wait until answer,
    ``t_abandon`` wait until abandon, ``t_acd`` the wait of every interaction that left the queue
    (answered or abandoned), ``t_alert`` every alert, ``t_not_responding`` alerts not answered,
    ``t_handle`` answer until the agent is done.
    """

    start_ms: int
    end_ms: int
    offered: int = 0
    t_answered: Durations = Durations()
    t_abandon: Durations = Durations()
    t_acd: Durations = Durations()
    t_alert: Durations = Durations()
    t_not_responding: Durations = Durations()
    t_handle: Durations = Durations()
    sl_numerator: int = 0
    sl_denominator: int = 0
    sl_target: float = 0.8

    @property
    def answered(self) -> int:
        return self.t_answered.count

    @property
    def answered_sum_ms(self) -> int:
        return self.t_answered.sum_ms

    @property
    def abandoned(self) -> int:
        return self.t_abandon.count

    @property
    def abandoned_sum_ms(self) -> int:
        return self.t_abandon.sum_ms

    @property
    def handled(self) -> int:
        return self.t_handle.count

    @property
    def handled_sum_ms(self) -> int:
        return self.t_handle.sum_ms

    @property
    def counted(self) -> bool:
        """Whether anything at all was counted in this interval."""
        return bool(self.offered or self.sl_denominator or self.t_alert.count or self.t_handle.count)

    @staticmethod
    def combined(ivs: list[IntervalStats]) -> IntervalStats:
        """The sum of several (queue, mediaType) figures of one interval; bounds and target of the first."""
        first = ivs[0]

        def total(name: str) -> Durations:
            out = Durations()
            for iv in ivs:
                out = out.merged(getattr(iv, name))
            return out

        return IntervalStats(
            start_ms=first.start_ms,
            end_ms=first.end_ms,
            offered=sum(iv.offered for iv in ivs),
            t_answered=total("t_answered"),
            t_abandon=total("t_abandon"),
            t_acd=total("t_acd"),
            t_alert=total("t_alert"),
            t_not_responding=total("t_not_responding"),
            t_handle=total("t_handle"),
            sl_numerator=sum(iv.sl_numerator for iv in ivs),
            sl_denominator=sum(iv.sl_denominator for iv in ivs),
            sl_target=first.sl_target,
        )


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
    ``before`` holds, for each changed media, its previously emitted state (None the first time);
    ``agents_before`` the previously emitted counts (None the first time). ``closed`` holds the
    final figures of intervals that ended during the step, per media.
    """

    queue: QueueInfo
    observed_at_ms: int
    media: dict[str, MediaState]
    changed_media: tuple[str, ...]
    agents: AgentCounts
    agents_changed: bool
    before: dict[str, MediaState | None] = field(default_factory=dict)
    agents_before: AgentCounts | None = None
    closed: dict[str, IntervalStats] = field(default_factory=dict)

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


@dataclass(frozen=True, slots=True)
class HeldDetail:
    """One interaction an agent holds (alerting or interacting), for the activity and observation queries."""

    conversation_id: str
    user_id: str
    answered: bool
    """True once the agent answered (``oInteracting``), False while it alerts (``oAlerting``)."""
    since_ms: int
    """When the current state began: the answer, or the start of the alert."""


@dataclass(frozen=True, slots=True)
class MemberDetail:
    """One member of a queue and its routing status, for the routing activity query."""

    user_id: str
    status: str
    """One of ``ROUTING_STATUSES``."""
