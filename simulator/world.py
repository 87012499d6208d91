"""The contact-center world: a pure, steppable model with no I/O.

``World.step(dt_s)`` advances simulated time and returns the ``QueueChange``s it caused. The world
composes four parts, each in its own module: the roster (queues, agents, membership), traffic
(waves, day curve, arrivals), routing (answer, abandon, agent timers) and observation (what changed
since the last step). Every random draw comes from one seeded ``random.Random`` shared by the parts,
in a fixed order, so the same seed, start time and sequence of steps and control calls give the
same changes.
"""

from __future__ import annotations

import random
from typing import Final

from .model import (
    INTERVAL_MS,
    AgentCounts,
    HeldDetail,
    MediaState,
    MemberDetail,
    QueueChange,
    QueueInfo,
    WaitingDetail,
    interval_start,
)
from .observation import Observer, held_details, media_state, member_details, waiting_details
from .roster import Roster
from .routing import Routing
from .traffic import Traffic, Wave, day_curve

_SUBSTEP_MS: Final = 1000

__all__ = ["Wave", "World", "day_curve"]


class World:
    """Queues, agents and interactions. Owns its clock (``now_ms``); never touches I/O or the wall clock."""

    def __init__(self, *, seed: int, queues: int, agents: int, start_ms: int, arrivals_per_min: float = 12.0) -> None:
        self._rng = random.Random(seed)
        self._seed = seed
        self.now_ms = start_ms
        self._roster = Roster(rng=self._rng, seed=seed, queues=queues, agents=agents, now_ms=start_ms)
        self._traffic = Traffic(arrivals_per_min=arrivals_per_min)
        self._routing = Routing(rng=self._rng, roster=self._roster, now_ms=start_ms)
        self._observer = Observer()

    @property
    def queues(self) -> tuple[QueueInfo, ...]:
        return self._roster.queues

    @property
    def queue_by_id(self) -> dict[str, QueueInfo]:
        return self._roster.queue_by_id

    @property
    def arrivals_per_min(self) -> float:
        return self._traffic.arrivals_per_min

    # ----------------------------------------------------------------- control
    def start_wave(
        self, *, rate_per_min: float, duration_s: float, queue_id: str | None = None, media: str | None = None
    ) -> Wave:
        """Add ``rate_per_min`` arrivals per simulated minute for ``duration_s`` simulated seconds.

        Raises ``KeyError`` for an unknown queue and ``ValueError`` for an unknown media type or a
        negative rate or duration.
        """
        if queue_id is not None and queue_id not in self._roster.queue_by_id:
            raise KeyError(queue_id)
        return self._traffic.start_wave(
            rate_per_min=rate_per_min, duration_s=duration_s, now_ms=self.now_ms, queue_id=queue_id, media=media
        )

    def stop_wave(self, wave_id: str) -> bool:
        """End a wave now; False when it is not running."""
        return self._traffic.stop_wave(wave_id)

    @property
    def waves(self) -> tuple[Wave, ...]:
        return self._traffic.waves

    def add_queue(self, name: str) -> QueueInfo:
        """Create a queue named ``name`` (every media type, no member agents); it reports its initial
        state at the next step. Raises ``ValueError`` for an empty name or one already in use."""
        q = self._roster.add_queue(name)
        self._routing.open_books(q, self.now_ms)
        return q

    def remove_queue(self, queue_id: str) -> bool:
        """Delete a queue: its waiting interactions vanish, its waves stop, its members leave it (an
        agent alerting or handling one of its interactions is idle again). False when unknown."""
        q = self._roster.remove_queue(queue_id, now_ms=self.now_ms)
        if q is None:
            return False
        self._routing.close_books(q)
        self._observer.forget(q)
        self._traffic.drop_queue(queue_id)
        return True

    # ----------------------------------------------------------------- stepping
    def step(self, dt_s: float) -> list[QueueChange]:
        """Advance ``dt_s`` simulated seconds (>= 0) and return the changes, one per changed queue.

        Sub-steps are at most one simulated second and never straddle a 30-minute boundary.
        ``step(0)`` on a fresh world returns every queue (the initial state).
        """
        if dt_s < 0:
            raise ValueError("dt_s must be >= 0")
        end = self.now_ms + round(dt_s * 1000)
        while self.now_ms < end:
            boundary = interval_start(self.now_ms) + INTERVAL_MS
            t1 = min(end, self.now_ms + _SUBSTEP_MS, boundary)
            self._substep(self.now_ms, t1)
            self.now_ms = t1
        self._routing.roll_intervals_at(self.now_ms)
        self._traffic.prune(self.now_ms)
        return self._observer.diff(self.now_ms, self._roster, self._routing.books, self._routing.closed)

    def _substep(self, t0: int, t1: int) -> None:
        # The order of these moves is the order of the rng draws: changing it changes every world.
        routing = self._routing
        routing.roll_intervals_at(t0)
        self._traffic.prune(t0)
        for queue_id, media, t_ms in self._traffic.arrivals(self._rng, self._roster.queues, t0, t1):
            routing.arrive(queue_id, media, t_ms)
        routing.abandon_due(t1)
        routing.run_timers(t1)
        routing.wander(t1, t1 - t0)
        routing.assign(t1)

    # ----------------------------------------------------------------- observation
    def media_state(self, queue_id: str, media: str) -> MediaState:
        """Current absolute values of one (queue, mediaType). Raises ``KeyError`` when unknown."""
        book = self._routing.books[(queue_id, media)]
        return media_state(self._roster.queue_by_id[queue_id], media, book, self._roster.agents)

    def agent_counts(self, queue_id: str) -> AgentCounts:
        """Routing-status counts of the queue's members, all five statuses."""
        return self._roster.agent_counts(queue_id)

    def waiting_details(self, queue_id: str, media: str) -> list[WaitingDetail]:
        """The waiting interactions of one (queue, mediaType), oldest first."""
        return waiting_details(self._routing.books[(queue_id, media)])

    def held_details(self, queue_id: str, media: str) -> list[HeldDetail]:
        """Interactions of one (queue, mediaType) that agents hold (alerting or interacting), oldest state first."""
        return held_details(queue_id, media, self._roster.agents, seed=self._seed)

    def member_details(self, queue_id: str) -> list[MemberDetail]:
        """The queue's members with their routing status, in roster order."""
        return member_details(queue_id, self._roster.agents, seed=self._seed)

    def last_observed_ms(self, queue_id: str) -> int | None:
        """``observedAt`` of the newest change emitted for the queue, None before the first."""
        return self._observer.last_observed_ms(queue_id)
