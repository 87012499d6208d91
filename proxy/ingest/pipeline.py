"""The ingest pipeline after validation: dedupe → topic filter → staleness → reducer → aggregator.

:class:`Ingestor` is also the upstream's :class:`~proxy.upstream.sinks.ObservationSink` (structurally:
ingest does not import upstream).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

import trio

from proxy.ingest.dedupe import Deduper
from proxy.ingest.envelope import InboundEvent
from proxy.metrics import Metrics
from proxy.state.aggregator import Aggregator
from proxy.state.observation import QueueObservation
from proxy.state.reducer import Outcome, Reducer

_MAX_REMOVED = 10_000  # remembered deleted queue ids


class Ingestor:
    """Applies validated events; every outcome is counted (``applied``, ``duplicate``, ``stale``,
    ``ignored``, ``unsupported``, ``removed`` — for a queue deleted upstream)."""

    def __init__(
        self,
        *,
        reducer: Reducer,
        aggregator: Aggregator,
        deduper: Deduper,
        metrics: Metrics,
        on_event: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._reducer = reducer
        self._aggregator = aggregator
        self._deduper = deduper
        self._metrics = metrics
        self._on_event = on_event
        self._clock = clock
        self._removed: dict[str, None] = {}

    def ingest(self, events: Iterable[InboundEvent]) -> Counter[str]:
        """Apply a validated batch in order; returns the count of each outcome."""
        now = self._clock()
        outcomes: Counter[str] = Counter()
        evicted_before = self._deduper.evicted
        for event in events:
            if self._deduper.seen(event.event_id, now):
                outcomes["duplicate"] += 1
            elif not event.allowed:
                outcomes["ignored"] += 1
            elif event.observation is None:
                outcomes["unsupported"] += 1
            else:
                outcomes[self._apply(event.observation, now)] += 1
        if self._deduper.evicted != evicted_before:
            self._metrics.dedupe_evicted.inc(self._deduper.evicted - evicted_before)
        self._count(outcomes)
        return outcomes

    def apply(self, observations: Iterable[QueueObservation]) -> Counter[str]:
        """Apply observations that need no dedupe (WebSocket frames, REST backfill)."""
        now = self._clock()
        outcomes: Counter[str] = Counter(self._apply(obs, now) for obs in observations)
        self._count(outcomes)
        return outcomes

    def newest_time(self, queue_id: str) -> datetime | None:
        """The newest platform time applied for ``queue_id`` (None: never seen)."""
        return self._reducer.updated_at(queue_id)

    def remove_queue(self, queue_id: str) -> None:
        """A queue left the upstream's scope: forget it and tell the clients (``removed``).

        The id is remembered (bounded, oldest first) so that a late redelivery for the deleted queue
        cannot bring it back onto the board, frozen; ``follow_queue`` lifts that when it returns.
        """
        self._removed[queue_id] = None
        while len(self._removed) > _MAX_REMOVED:
            del self._removed[next(iter(self._removed))]
        if self._reducer.remove(queue_id):
            self._aggregator.mark_removed(queue_id)

    def follow_queue(self, queue_id: str) -> None:
        """A queue is (again) in the upstream's scope: its observations are applied."""
        self._removed.pop(queue_id, None)

    def _apply(self, obs: QueueObservation, now: float) -> str:
        if obs.queue_id in self._removed:
            return "removed"
        if self._reducer.apply(obs) is Outcome.STALE:
            return "stale"
        self._aggregator.mark(obs.queue_id, now)
        return "applied"

    def _count(self, outcomes: Counter[str]) -> None:
        for outcome, n in outcomes.items():
            self._metrics.event_outcome(outcome).inc(n)
        if outcomes:
            self._on_event()
