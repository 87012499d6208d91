"""Routing: interactions meet agents. Arrival into a queue, abandon, alerting, answer, handling,
breaks, and the interval counters each of those moves.

Rules: idle agents (longest idle first) take the oldest waiting interaction of their queues; it
alerts 2–8 s, and 5 % are not answered (the agent goes NOT_RESPONDING for 10–30 s and the
interaction returns to the queue in its place); handle time is log-normal; after an interaction 5 %
of agents take a break (OFF_QUEUE); idle agents occasionally go OFF_QUEUE or COMMUNICATING. A waiting
interaction abandons when its patience (exponential) runs out. Every draw is from the world's rng.
"""

from __future__ import annotations

import math
import random
from typing import Final

from .interactions import Counters, Interaction, MediaBook, insert_by_offer, rng_uuid
from .model import QueueInfo, interval_start
from .roster import Agent, Roster

_PATIENCE_MEAN_MS: Final = {"voice": 90_000.0, "chat": 180_000.0}
_HANDLE_MEDIAN_MS: Final = {"voice": 40_000.0, "chat": 60_000.0}
_NO_ANSWER_P: Final = 0.05


class Routing:
    """The books of every (queue, mediaType) and the moves between them and the roster's agents."""

    def __init__(self, *, rng: random.Random, roster: Roster, now_ms: int) -> None:
        self._rng = rng
        self._roster = roster
        self._seq = 0
        self.books: dict[tuple[str, str], MediaBook] = {}
        self.closed: dict[tuple[str, str], tuple[int, Counters]] = {}
        """(interval start, final counters) of intervals that ended since the observer last took them."""
        for q in roster.queues:
            self.open_books(q, now_ms)

    # ----------------------------------------------------------------- books
    def open_books(self, q: QueueInfo, now_ms: int) -> None:
        """Empty books for every media of ``q``, in the interval holding ``now_ms``."""
        for m in q.media:
            self.books[(q.queue_id, m)] = MediaBook(interval_start_ms=interval_start(now_ms))

    def close_books(self, q: QueueInfo) -> None:
        """Forget ``q``'s books (its waiting interactions vanish)."""
        for m in q.media:
            self.books.pop((q.queue_id, m), None)
            self.closed.pop((q.queue_id, m), None)

    def roll_intervals_at(self, t_ms: int) -> None:
        """Start fresh counters in every book whose interval does not hold ``t_ms``; the final
        counters of the interval that ended are kept in ``closed``."""
        start = interval_start(t_ms)
        for key, book in self.books.items():
            if book.interval_start_ms != start:
                self.closed[key] = (book.interval_start_ms, book.counters)
                book.interval_start_ms = start
                book.counters = Counters()

    # ----------------------------------------------------------------- moves
    def arrive(self, queue_id: str, media: str, t_ms: int) -> None:
        """A new interaction is offered to (queue, media) at ``t_ms`` and waits."""
        self._seq += 1
        patience = round(self._rng.expovariate(1.0 / _PATIENCE_MEAN_MS[media])) + 1
        it = Interaction(
            seq=self._seq,
            conversation_id=rng_uuid(self._rng),
            queue_id=queue_id,
            media=media,
            offered_ms=t_ms,
            abandon_at_ms=t_ms + patience,
        )
        book = self.books[(queue_id, media)]
        book.counters.offered += 1
        insert_by_offer(book.waiting, it)

    def abandon_due(self, t_ms: int) -> None:
        """Waiting interactions whose patience ran out by ``t_ms`` leave (abandon)."""
        for book in self.books.values():
            keep = []
            for it in book.waiting:
                if it.abandon_at_ms <= t_ms:
                    c = book.counters
                    wait = it.abandon_at_ms - it.offered_ms
                    c.abandoned = c.abandoned.plus(wait)
                    c.acd = c.acd.plus(wait)
                    c.sl_denominator += 1
                else:
                    keep.append(it)
            book.waiting = keep

    def run_timers(self, t_ms: int) -> None:
        """End every timed agent state due by ``t_ms``, in time order."""
        due = sorted(
            (a for a in self._roster.agents if a.until_ms is not None and a.until_ms <= t_ms),
            key=lambda a: (a.until_ms, a.index),
        )
        for agent in due:
            self._timer(agent, t_ms)

    def wander(self, t_ms: int, dt_ms: int) -> None:
        """Idle agents occasionally go OFF_QUEUE or COMMUNICATING for 1–5 minutes."""
        rng = self._rng
        for agent in self._roster.agents:
            if agent.status == "IDLE" and rng.random() < 0.002 * dt_ms / 1000:
                agent.status = rng.choice(("OFF_QUEUE", "COMMUNICATING"))
                agent.until_ms = t_ms + round(rng.uniform(60_000, 300_000))

    def assign(self, t_ms: int) -> None:
        """Idle agents (longest idle first) take the oldest waiting interaction they serve; it alerts."""
        roster = self._roster
        idle = sorted((a for a in roster.agents if a.status == "IDLE"), key=lambda a: (a.idle_since_ms, a.index))
        for agent in idle:
            best: MediaBook | None = None
            for qid in agent.queues:
                for m in roster.queue_by_id[qid].media:
                    book = self.books[(qid, m)]
                    if book.waiting and (best is None or book.waiting[0].offered_ms < best.waiting[0].offered_ms):
                        best = book
            if best is None:
                continue
            it = best.waiting.pop(0)
            it.agent = agent.index
            it.alerted_ms = t_ms
            agent.status = "INTERACTING"
            agent.interaction = it
            agent.until_ms = t_ms + round(self._rng.uniform(2_000, 8_000))

    def _timer(self, agent: Agent, t_ms: int) -> None:
        rng = self._rng
        it = agent.interaction
        if it is not None and not it.answered:  # alerting ended
            book = self.books[(it.queue_id, it.media)]
            c = book.counters
            alert = t_ms - it.alerted_ms
            c.alert = c.alert.plus(alert)
            if rng.random() < _NO_ANSWER_P:
                c.not_responding = c.not_responding.plus(alert)
                it.agent = None
                insert_by_offer(book.waiting, it)
                agent.interaction = None
                agent.status = "NOT_RESPONDING"
                agent.until_ms = t_ms + round(rng.uniform(10_000, 30_000))
                return
            it.answered = True
            it.answered_ms = t_ms
            wait = t_ms - it.offered_ms
            c.answered = c.answered.plus(wait)
            c.acd = c.acd.plus(wait)
            c.sl_denominator += 1
            if wait <= self._roster.queue_by_id[it.queue_id].sl_threshold_ms:
                c.sl_numerator += 1
            agent.until_ms = t_ms + round(rng.lognormvariate(math.log(_HANDLE_MEDIAN_MS[it.media]), 0.5))
            return
        # handling, break, communicating or not responding ended
        agent.interaction = None
        if it is not None:  # handling ended: the handle time counts where the interaction was queued
            c = self.books[(it.queue_id, it.media)].counters
            c.handle = c.handle.plus(t_ms - it.answered_ms)
        if it is not None and rng.random() < 0.05:
            agent.status = "OFF_QUEUE"
            agent.until_ms = t_ms + round(rng.uniform(60_000, 600_000))
            return
        agent.status = "IDLE"
        agent.until_ms = None
        agent.idle_since_ms = t_ms
