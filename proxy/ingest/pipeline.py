"""The ingest pipeline after validation: dedupe → topic filter → staleness → reducer → aggregator.

:class:`Ingestor` is also the upstream's :class:`~proxy.upstream.sinks.ObservationSink` (structurally:
ingest does not import upstream).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import trio

from proxy.ingest.adapter import stamp_untimed
from proxy.ingest.dedupe import Deduper
from proxy.ingest.envelope import InboundEvent
from proxy.metrics import Metrics
from proxy.state.aggregator import Aggregator
from proxy.state.observation import ROUTING_STATUSES, QueueObservation, Unchanged
from proxy.state.reducer import Outcome, Reducer
from proxy.timefmt import utcnow

_MAX_REMOVED = 10_000  # remembered deleted queue ids
_DAY = timedelta(days=1)


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
        self._newest: datetime | None = None  # the newest platform instant time applied

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
                self._shape(event.observation)
                outcomes[self._apply(event.observation, now)] += 1
        if self._deduper.evicted != evicted_before:
            self._metrics.dedupe_evicted.inc(self._deduper.evicted - evicted_before)
        self._count(outcomes)
        return outcomes

    def apply(self, observations: Iterable[QueueObservation], *, live: bool = True) -> Counter[str]:
        """Apply observations that need no dedupe: WebSocket frames (``live``), REST answers (not).

        An observation with instant values but no time (an ``.activity`` frame) is stamped with the
        queue's newest applied platform time + 1 ms first (``stamp_untimed``): never the proxy's clock."""
        now = self._clock()
        outcomes: Counter[str] = Counter()
        # ``.activity`` frames carry no time: stamped with the queue's newest platform time + 1 ms
        for obs in stamp_untimed(list(observations), self.newest_time):
            if live:
                self._shape(obs)
            outcomes[self._apply(obs, now)] += 1
        self._count(outcomes)
        return outcomes

    def _shape(self, obs: QueueObservation) -> None:
        """Count what live messages carry (``queuecast_observed_fields_total``), so a tenant owner sees
        which shape their org sends: is there ever an ``oLongestWaiting``? all routing statuses or some?"""
        count = self._metrics.observed_field
        if obs.waiting is not None:
            count("oWaiting")
        if obs.interacting is not None:
            count("oInteracting")
        if obs.alerting is not None:
            count("oAlerting")
        if not isinstance(obs.longest_waiting_since, Unchanged):
            count("oLongestWaiting")
        if obs.interval is not None:
            count("interval")
        if obs.agents is not None:
            count("routing_statuses_all" if len(obs.agents) == len(ROUTING_STATUSES) else "routing_statuses_some")

    def newest_time(self, queue_id: str) -> datetime | None:
        """The newest platform time applied for ``queue_id`` (None: never seen)."""
        return self._reducer.updated_at(queue_id)

    def platform_now(self) -> datetime:
        """The wall clock, or the newest platform time applied when ahead of it (at most a day ahead:
        a bad time cannot move the board's interval far)."""
        wall = utcnow()
        newest = self._newest
        return wall if newest is None else max(wall, min(newest, wall + _DAY))

    def known_queues(self) -> list[str]:
        return self._reducer.queue_ids()

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
        at = obs.observed_at
        if at is not None and (self._newest is None or at > self._newest):
            self._newest = at
        self._aggregator.mark(obs.queue_id, now)
        return "applied"

    def _count(self, outcomes: Counter[str]) -> None:
        for outcome, n in outcomes.items():
            self._metrics.event_outcome(outcome).inc(n)
        if outcomes:
            self._on_event()
