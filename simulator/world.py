"""The contact-center world: a pure, steppable model with no I/O.

``World.step(dt_s)`` advances simulated time and returns the ``QueueChange``s it caused. Every
random draw comes from one seeded ``random.Random``, so the same seed, start time and sequence of
steps and control calls give the same changes.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Final

from faker import Faker

from .model import (
    INTERVAL_MS,
    MEDIA_TYPES,
    ROUTING_STATUSES,
    AgentCounts,
    IntervalStats,
    MediaState,
    QueueChange,
    QueueInfo,
    WaitingDetail,
    interval_start,
)

_DEPARTMENTS: Final = (
    "Billing",
    "Sales",
    "Claims",
    "Returns",
    "Onboarding",
    "Technical",
    "Premium",
    "Renewals",
    "Accounts",
    "Shipping",
    "Loyalty",
    "Fraud",
    "Payments",
    "Retention",
    "Warranty",
    "Bookings",
)
_SUFFIXES: Final = ("Support", "Care", "Desk", "Line", "Team")
_MEDIA_SHARE: Final = {"voice": 0.7, "chat": 0.3}
_PATIENCE_MEAN_MS: Final = {"voice": 90_000.0, "chat": 180_000.0}
_HANDLE_MEDIAN_MS: Final = {"voice": 40_000.0, "chat": 60_000.0}
_NO_ANSWER_P: Final = 0.05
_SUBSTEP_MS: Final = 1000


@dataclass(slots=True)
class _Interaction:
    seq: int
    conversation_id: str
    queue_id: str
    media: str
    offered_ms: int
    abandon_at_ms: int
    agent: int | None = None
    answered: bool = False


@dataclass(slots=True)
class _Agent:
    index: int
    queues: tuple[str, ...]
    status: str
    until_ms: int | None = None
    """When the current timed state (alerting, handling, break, not responding) ends."""
    interaction: _Interaction | None = None
    idle_since_ms: int = 0


@dataclass(frozen=True, slots=True)
class Wave:
    """Extra arrivals: ``rate_per_min`` more per minute on ``queue_id`` (None = every queue)."""

    wave_id: str
    queue_id: str | None
    media: str | None
    rate_per_min: float
    start_ms: int
    end_ms: int


@dataclass(slots=True)
class _Counters:
    offered: int = 0
    answered: int = 0
    answered_sum_ms: int = 0
    abandoned: int = 0
    abandoned_sum_ms: int = 0
    sl_numerator: int = 0
    sl_denominator: int = 0


@dataclass(slots=True)
class _MediaBook:
    waiting: list[_Interaction] = field(default_factory=list)
    interval_start_ms: int = 0
    counters: _Counters = field(default_factory=_Counters)


def day_curve(t_ms: int) -> float:
    """Arrival-rate multiplier by simulated UTC hour: a morning and an afternoon peak, never below 0.6."""
    hour = (t_ms % 86_400_000) / 3_600_000
    return 0.6 + 1.0 * math.exp(-(((hour - 10.5) / 2.5) ** 2)) + 0.8 * math.exp(-(((hour - 15.0) / 2.5) ** 2))


class World:
    """Queues, agents and interactions. Owns its clock (``now_ms``); never touches I/O or the wall clock."""

    def __init__(self, *, seed: int, queues: int, agents: int, start_ms: int, arrivals_per_min: float = 12.0) -> None:
        self._rng = random.Random(seed)
        self.now_ms = start_ms
        self.arrivals_per_min = arrivals_per_min
        self.queues: tuple[QueueInfo, ...] = self._make_queues(seed, queues)
        self.queue_by_id = {q.queue_id: q for q in self.queues}
        self._agents = self._make_agents(agents)
        self._books: dict[tuple[str, str], _MediaBook] = {
            (q.queue_id, m): _MediaBook(interval_start_ms=interval_start(start_ms))
            for q in self.queues
            for m in q.media
        }
        self._waves: dict[str, Wave] = {}
        self._seq = 0
        self._wave_seq = 0
        self._last_media: dict[tuple[str, str], MediaState] = {}
        self._last_agents: dict[str, AgentCounts] = {}
        self._last_observed: dict[str, int] = {}

    # ----------------------------------------------------------------- construction
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _make_queues(self, seed: int, count: int) -> tuple[QueueInfo, ...]:
        fake = Faker()
        fake.seed_instance(seed)
        departments = list(_DEPARTMENTS)
        fake.random.shuffle(departments)
        names: list[str] = []
        for i in range(count):
            base = departments[i] if i < len(departments) else fake.last_name()
            name = f"{base} {fake.random_element(_SUFFIXES)}"
            while name in names:
                name = f"{name} {len(names)}"
            names.append(name)
        return tuple(
            QueueInfo(
                queue_id=self._uuid(),
                name=name,
                media=MEDIA_TYPES,
                sl_target=self._rng.choice((0.7, 0.8, 0.9)),
                sl_threshold_ms=self._rng.choice((20_000, 30_000)),
            )
            for name in names
        )

    def _make_agents(self, count: int) -> list[_Agent]:
        agents = []
        ids = [q.queue_id for q in self.queues]
        for i in range(count):
            member = [ids[i % len(ids)]]
            if len(ids) > 1 and self._rng.random() < 0.4:
                other = self._rng.choice(ids)
                if other not in member:
                    member.append(other)
            status = "OFF_QUEUE" if self._rng.random() < 0.1 else "IDLE"
            agents.append(_Agent(index=i, queues=tuple(member), status=status, idle_since_ms=self.now_ms))
        return agents

    # ----------------------------------------------------------------- control
    def start_wave(
        self, *, rate_per_min: float, duration_s: float, queue_id: str | None = None, media: str | None = None
    ) -> Wave:
        """Add ``rate_per_min`` arrivals per simulated minute for ``duration_s`` simulated seconds.

        Raises ``KeyError`` for an unknown queue and ``ValueError`` for an unknown media type or a
        negative rate or duration.
        """
        if queue_id is not None and queue_id not in self.queue_by_id:
            raise KeyError(queue_id)
        if media is not None and media not in MEDIA_TYPES:
            raise ValueError(f"unknown mediaType {media!r}")
        if rate_per_min < 0 or duration_s <= 0:
            raise ValueError("ratePerMin must be >= 0 and durationS > 0")
        self._wave_seq += 1
        wave = Wave(
            wave_id=f"wave-{self._wave_seq}",
            queue_id=queue_id,
            media=media,
            rate_per_min=rate_per_min,
            start_ms=self.now_ms,
            end_ms=self.now_ms + round(duration_s * 1000),
        )
        self._waves[wave.wave_id] = wave
        return wave

    def stop_wave(self, wave_id: str) -> bool:
        """End a wave now; False when it is not running."""
        return self._waves.pop(wave_id, None) is not None

    @property
    def waves(self) -> tuple[Wave, ...]:
        return tuple(self._waves.values())

    def add_queue(self, name: str) -> QueueInfo:
        """Create a queue named ``name`` (every media type, no member agents); it reports its initial
        state at the next step. Raises ``ValueError`` for an empty name or one already in use."""
        if not name.strip():
            raise ValueError("name: a non-empty string is required")
        if any(q.name == name for q in self.queues):
            raise ValueError(f"name: a queue named {name!r} exists")
        q = QueueInfo(
            queue_id=self._uuid(),
            name=name,
            media=MEDIA_TYPES,
            sl_target=self._rng.choice((0.7, 0.8, 0.9)),
            sl_threshold_ms=self._rng.choice((20_000, 30_000)),
        )
        self.queues = (*self.queues, q)
        self.queue_by_id[q.queue_id] = q
        for m in q.media:
            self._books[(q.queue_id, m)] = _MediaBook(interval_start_ms=interval_start(self.now_ms))
        return q

    def remove_queue(self, queue_id: str) -> bool:
        """Delete a queue: its waiting interactions vanish, its waves stop, its members leave it (an
        agent alerting or handling one of its interactions is idle again). False when unknown."""
        q = self.queue_by_id.pop(queue_id, None)
        if q is None:
            return False
        self.queues = tuple(x for x in self.queues if x.queue_id != queue_id)
        for m in q.media:
            self._books.pop((queue_id, m), None)
            self._last_media.pop((queue_id, m), None)
        self._last_agents.pop(queue_id, None)
        self._last_observed.pop(queue_id, None)
        for wave_id in [w.wave_id for w in self._waves.values() if w.queue_id == queue_id]:
            del self._waves[wave_id]
        for agent in self._agents:
            agent.queues = tuple(x for x in agent.queues if x != queue_id)
            if agent.interaction is not None and agent.interaction.queue_id == queue_id:
                agent.interaction = None
                agent.status = "IDLE"
                agent.until_ms = None
                agent.idle_since_ms = self.now_ms
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
        self._roll_intervals_at(self.now_ms)
        self._prune_waves(self.now_ms)
        return self._diff()

    def _prune_waves(self, t_ms: int) -> None:
        for wave_id in [w.wave_id for w in self._waves.values() if w.end_ms <= t_ms]:
            del self._waves[wave_id]

    def _substep(self, t0: int, t1: int) -> None:
        self._roll_intervals_at(t0)
        rng = self._rng
        dt = t1 - t0
        self._prune_waves(t0)
        # arrivals
        for q in self.queues:
            for m in q.media:
                rate = self._rate_per_ms(q.queue_id, m, t0)
                for _ in range(_poisson(rng, rate * dt)):
                    self._arrive(q.queue_id, m, t0 + rng.randrange(dt))
        # abandons
        for book in self._books.values():
            keep = []
            for it in book.waiting:
                if it.abandon_at_ms <= t1:
                    c = book.counters
                    c.abandoned += 1
                    c.abandoned_sum_ms += it.abandon_at_ms - it.offered_ms
                    c.sl_denominator += 1
                else:
                    keep.append(it)
            book.waiting = keep
        # agent timers, in time order
        due = sorted(
            (a for a in self._agents if a.until_ms is not None and a.until_ms <= t1),
            key=lambda a: (a.until_ms, a.index),
        )
        for agent in due:
            self._timer(agent, t1)
        # spontaneous status changes
        for agent in self._agents:
            if agent.status == "IDLE" and rng.random() < 0.002 * dt / 1000:
                agent.status = rng.choice(("OFF_QUEUE", "COMMUNICATING"))
                agent.until_ms = t1 + round(rng.uniform(60_000, 300_000))
        # routing: idle agents (longest idle first) take the oldest waiting interaction they serve
        idle = sorted((a for a in self._agents if a.status == "IDLE"), key=lambda a: (a.idle_since_ms, a.index))
        for agent in idle:
            best: _MediaBook | None = None
            for qid in agent.queues:
                for m in self.queue_by_id[qid].media:
                    book = self._books[(qid, m)]
                    if book.waiting and (best is None or book.waiting[0].offered_ms < best.waiting[0].offered_ms):
                        best = book
            if best is None:
                continue
            it = best.waiting.pop(0)
            it.agent = agent.index
            agent.status = "INTERACTING"
            agent.interaction = it
            agent.until_ms = t1 + round(rng.uniform(2_000, 8_000))

    def _roll_intervals_at(self, t_ms: int) -> None:
        start = interval_start(t_ms)
        for book in self._books.values():
            if book.interval_start_ms != start:
                book.interval_start_ms = start
                book.counters = _Counters()

    def _rate_per_ms(self, queue_id: str, media: str, t_ms: int) -> float:
        per_min = self.arrivals_per_min * day_curve(t_ms) * _MEDIA_SHARE.get(media, 0.0)
        for w in self._waves.values():
            if w.queue_id in (None, queue_id) and (w.media is None or w.media == media):
                per_min += w.rate_per_min * (1.0 if w.media else _MEDIA_SHARE.get(media, 0.0))
        return per_min / 60_000.0

    def _arrive(self, queue_id: str, media: str, t_ms: int) -> None:
        self._seq += 1
        patience = round(self._rng.expovariate(1.0 / _PATIENCE_MEAN_MS[media])) + 1
        it = _Interaction(
            seq=self._seq,
            conversation_id=self._uuid(),
            queue_id=queue_id,
            media=media,
            offered_ms=t_ms,
            abandon_at_ms=t_ms + patience,
        )
        book = self._books[(queue_id, media)]
        book.counters.offered += 1
        _insert_by_offer(book.waiting, it)

    def _timer(self, agent: _Agent, t_ms: int) -> None:
        rng = self._rng
        it = agent.interaction
        if it is not None and not it.answered:  # alerting ended
            book = self._books[(it.queue_id, it.media)]
            if rng.random() < _NO_ANSWER_P:
                it.agent = None
                _insert_by_offer(book.waiting, it)
                agent.interaction = None
                agent.status = "NOT_RESPONDING"
                agent.until_ms = t_ms + round(rng.uniform(10_000, 30_000))
                return
            it.answered = True
            wait = t_ms - it.offered_ms
            c = book.counters
            c.answered += 1
            c.answered_sum_ms += wait
            c.sl_denominator += 1
            if wait <= self.queue_by_id[it.queue_id].sl_threshold_ms:
                c.sl_numerator += 1
            agent.until_ms = t_ms + round(rng.lognormvariate(math.log(_HANDLE_MEDIAN_MS[it.media]), 0.5))
            return
        # handling, break, communicating or not responding ended
        agent.interaction = None
        if it is not None and rng.random() < 0.05:
            agent.status = "OFF_QUEUE"
            agent.until_ms = t_ms + round(rng.uniform(60_000, 600_000))
            return
        agent.status = "IDLE"
        agent.until_ms = None
        agent.idle_since_ms = t_ms

    # ----------------------------------------------------------------- observation
    def media_state(self, queue_id: str, media: str) -> MediaState:
        """Current absolute values of one (queue, mediaType). Raises ``KeyError`` when unknown."""
        book = self._books[(queue_id, media)]
        q = self.queue_by_id[queue_id]
        alerting = interacting = 0
        for a in self._agents:
            it = a.interaction
            if it is not None and it.queue_id == queue_id and it.media == media:
                if it.answered:
                    interacting += 1
                else:
                    alerting += 1
        c = book.counters
        return MediaState(
            waiting=len(book.waiting),
            interacting=interacting,
            alerting=alerting,
            longest_waiting_ms=book.waiting[0].offered_ms if book.waiting else None,
            interval=IntervalStats(
                start_ms=book.interval_start_ms,
                end_ms=book.interval_start_ms + INTERVAL_MS,
                offered=c.offered,
                answered=c.answered,
                answered_sum_ms=c.answered_sum_ms,
                abandoned=c.abandoned,
                abandoned_sum_ms=c.abandoned_sum_ms,
                sl_numerator=c.sl_numerator,
                sl_denominator=c.sl_denominator,
                sl_target=q.sl_target,
            ),
        )

    def agent_counts(self, queue_id: str) -> AgentCounts:
        """Routing-status counts of the queue's members, all five statuses."""
        counts = dict.fromkeys(ROUTING_STATUSES, 0)
        for a in self._agents:
            if queue_id in a.queues:
                counts[a.status] += 1
        return tuple(counts.items())

    def waiting_details(self, queue_id: str, media: str) -> list[WaitingDetail]:
        """The waiting interactions of one (queue, mediaType), oldest first."""
        return [WaitingDetail(it.conversation_id, it.offered_ms) for it in self._books[(queue_id, media)].waiting]

    def last_observed_ms(self, queue_id: str) -> int | None:
        """``observedAt`` of the newest change emitted for the queue, None before the first."""
        return self._last_observed.get(queue_id)

    def _diff(self) -> list[QueueChange]:
        changes = []
        for q in self.queues:
            media = {m: self.media_state(q.queue_id, m) for m in q.media}
            changed = tuple(m for m in q.media if self._last_media.get((q.queue_id, m)) != media[m])
            agents = self.agent_counts(q.queue_id)
            agents_changed = self._last_agents.get(q.queue_id) != agents
            if not changed and not agents_changed:
                continue
            last = self._last_observed.get(q.queue_id)
            observed = self.now_ms if last is None else max(self.now_ms, last + 1)
            self._last_observed[q.queue_id] = observed
            for m in changed:
                self._last_media[(q.queue_id, m)] = media[m]
            self._last_agents[q.queue_id] = agents
            changes.append(QueueChange(q, observed, media, changed, agents, agents_changed))
        return changes


def _insert_by_offer(waiting: list[_Interaction], it: _Interaction) -> None:
    i = len(waiting)
    while i > 0 and (waiting[i - 1].offered_ms, waiting[i - 1].seq) > (it.offered_ms, it.seq):
        i -= 1
    waiting.insert(i, it)


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal beyond 200)."""
    if lam <= 0:
        return 0
    if lam > 200:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
