"""What the bench sends over many queues, and what it therefore expects every client to end up showing.

:class:`Workload` draws real-shaped messages (:mod:`bench.messages`) the way an org sends them:
mostly instant messages carrying only what changed (``oWaiting`` every time, ``oInteracting`` and
``oAlerting`` some of the time, all three the first time for a (queue, media)); now and then an
interval message with the figures of the current 30-minute interval so far, which only grow; now
and then an agent message with some routing statuses (all five the first time). Cost per event
stays that of one small envelope, batched as before.

Platform instants are the wall clock at generation, strictly increasing per queue (a message no
newer than what the proxy holds is stale), so a client can compute the delivery latency of any view
as ``arrival - updatedAt``. Acknowledged messages are folded into an :class:`ExpectedBoard`, which
derives every queue's final view by the proxy's rules independently of the proxy's code.

Standard library only: the Locust scenarios (``.venv-load``) draw their messages from it too.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace

from bench.expected import ExpectedBoard
from bench.messages import STATUSES, Agents, Figures, Instant, Interval, Message
from bench.timefmt import interval_start_ms


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of the message kinds (the rest are instant messages)."""

    interval: float = 0.12
    agents: float = 0.08


class Workload:
    """Draws messages over ``queues`` queues; folds the *acknowledged* ones into :attr:`expected`."""

    def __init__(self, queues: int, *, seed: int = 7, prefix: str = "bq", media: tuple[str, ...] = ("voice",),
                 mix: Mix = Mix(), keep_sent: bool = True) -> None:
        self.queue_ids = [f"{prefix}-{i:05d}" for i in range(queues)]
        self.media = media
        self.mix = mix
        self.expected = ExpectedBoard()
        self.sent_at: dict[str, list[int]] = {q: [] for q in self.queue_ids}
        """Per queue, the platform instants sent (instant and agent messages), in order; left empty
        unless ``keep_sent`` (a long load run would grow it without bound)."""
        self._keep_sent = keep_sent
        self._rng = random.Random(seed)
        self._last_ms: dict[str, int] = {}
        self._instant_sent: set[tuple[str, str]] = set()
        self._figures: dict[tuple[str, str], tuple[int, Figures]] = {}
        self._agents_sent: set[str] = set()

    def next(self, queue_id: str | None = None, *, waiting: int | None = None) -> Message:
        """The next message, for ``queue_id`` or a random queue. ``waiting`` forces an instant message
        carrying that ``oWaiting`` (the isolated-latency section tags events with it)."""
        rng = self._rng
        q = queue_id or self.queue_ids[rng.randrange(len(self.queue_ids))]
        media = self.media[rng.randrange(len(self.media))] if len(self.media) > 1 else self.media[0]
        t = max(int(time.time() * 1000), self._last_ms.get(q, 0) + 1)  # strictly newer per queue
        self._last_ms[q] = t
        draw = rng.random() if waiting is None else 1.0
        if draw < self.mix.interval:
            return self._interval(q, media, t)
        if draw < self.mix.interval + self.mix.agents:
            return self._agents(q, t)
        return self._instant(q, media, t, waiting)

    def _instant(self, q: str, media: str, t: int, waiting: int | None) -> Instant:
        rng = self._rng
        first = (q, media) not in self._instant_sent  # the first message of a (queue, media) carries all three
        self._instant_sent.add((q, media))
        w = rng.randrange(0, 30) if waiting is None else waiting
        i = rng.randrange(0, 50) if first or rng.random() < 0.4 else None
        a = rng.randrange(0, 3) if first or rng.random() < 0.25 else None
        if self._keep_sent:
            self.sent_at[q].append(t)
        return Instant(q, media, t, waiting=w, interacting=i, alerting=a)

    def _interval(self, q: str, media: str, t: int) -> Interval:
        rng = self._rng
        start = interval_start_ms(t)
        held = self._figures.get((q, media))
        f = held[1] if held is not None and held[0] == start else Figures()
        offered = rng.randrange(1, 4)
        answered = rng.randrange(1, offered + 1)  # >= 1: every interval message carries oServiceLevel
        abandoned = offered - answered
        handled = rng.randrange(0, answered + 1)
        within = rng.randrange(0, answered + 1)
        f = replace(f, offered=f.offered + offered, answered=f.answered + answered,
                    answered_sum_ms=f.answered_sum_ms + answered * rng.randrange(5_000, 60_000),
                    abandoned=f.abandoned + abandoned,
                    abandoned_sum_ms=f.abandoned_sum_ms + abandoned * rng.randrange(10_000, 120_000),
                    handled=f.handled + handled,
                    handled_sum_ms=f.handled_sum_ms + handled * rng.randrange(60_000, 600_000),
                    sl_numerator=f.sl_numerator + within, sl_denominator=f.sl_denominator + answered + abandoned)
        self._figures[q, media] = (start, f)
        return Interval(q, media, t, start, f)

    def _agents(self, q: str, t: int) -> Agents:
        rng = self._rng
        if q in self._agents_sent:
            statuses = sorted(rng.sample(range(len(STATUSES)), rng.randrange(1, len(STATUSES) + 1)))
        else:
            statuses = list(range(len(STATUSES)))
            self._agents_sent.add(q)
        if self._keep_sent:
            self.sent_at[q].append(t)
        return Agents(q, t, tuple((STATUSES[s], rng.randrange(0, 20)) for s in statuses))

    def ack(self, messages: list[Message]) -> None:
        """Record that these were accepted (200): what clients must show follows from them."""
        self.expected.add_all(messages)
