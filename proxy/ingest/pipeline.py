"""The ingest pipeline after validation: dedupe → topic filter → staleness → reducer → aggregator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import trio

from proxy.ingest.dedupe import Deduper
from proxy.ingest.envelope import InboundEvent
from proxy.metrics import Metrics
from proxy.state.aggregator import Aggregator
from proxy.state.observation import QueueObservation
from proxy.state.reducer import Outcome, Reducer


class Ingestor:
    """Applies validated events; every outcome is counted (``applied``, ``duplicate``, ``stale``, ...)."""

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

    def ingest_observations(self, observations: Iterable[QueueObservation]) -> Counter[str]:
        """Apply observations that need no dedupe (WebSocket frames, REST backfill)."""
        now = self._clock()
        outcomes: Counter[str] = Counter(self._apply(obs, now) for obs in observations)
        self._count(outcomes)
        return outcomes

    def remove_queue(self, queue_id: str) -> None:
        """A queue left the upstream's scope: forget it and tell the clients (``removed``)."""
        if self._reducer.remove(queue_id):
            self._aggregator.mark_removed(queue_id)

    def _apply(self, obs: QueueObservation, now: float) -> str:
        if self._reducer.apply(obs) is Outcome.STALE:
            return "stale"
        self._aggregator.mark(obs.queue_id, now)
        return "applied"

    def _count(self, outcomes: Counter[str]) -> None:
        for outcome, n in outcomes.items():
            self._metrics.event_outcome(outcome).inc(n)
        if outcomes:
            self._on_event()
