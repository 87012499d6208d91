"""Callbacks in a cluster: accepted on any instance, applied once by the leader.

The instance a callback lands on authenticates and validates it (401/400 there), then hands the body to
Redis in one atomic script (:data:`~proxy.cluster.scripts.INTAKE`): every event id not seen in the last
``QC_DEDUPE_HORIZON_S`` is remembered (``SET NX EX``) and the body is appended to the callback stream with
the indexes of its new events. The callback is answered 200 only after that, so an accepted event is
durable even if the instance dies right after answering; while Redis is unreachable it answers 503 and
the pusher redelivers. Every instance reads the stream and applies the new events through its ingest
pipeline (only the leader publishes), so whoever leads next holds the state already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import trio

from proxy.auth.backoff import Backoff
from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.scripts import INTAKE
from proxy.cluster.store import Keys, Redis, call, entry_fields, entry_id, script
from proxy.errors import InvalidInput, StoreUnavailable
from proxy.ingest.envelope import InboundEvent, parse_callback
from proxy.ingest.topics import TopicFilter

log = logging.getLogger("queuecast.cluster.intake")

#: Accepted bodies kept in the callback stream (``XADD MAXLEN ~``): instances read it within milliseconds;
#: a fresh instance rebuilds its reducer from what is kept (about 1 KB each: ~20 MB in Redis).
STREAM_MAXLEN = 20_000


class CallbackIntake:
    def __init__(self, keys: Keys, *, horizon_s: float, metrics: ClusterMetrics) -> None:
        self.redis: Redis | None = None
        self._keys = keys
        self._horizon = str(max(1, int(horizon_s)))
        self._metrics = metrics

    async def accept(self, raw: bytes, events: Sequence[InboundEvent]) -> tuple[int, int]:
        """Make a validated body durable; returns ``(accepted, duplicate)`` event counts.

        Raises :class:`StoreUnavailable` when Redis cannot take it (answer 503: nothing was accepted).
        """
        if not events:
            return 0, 0
        if self.redis is None:
            raise StoreUnavailable("redis: not connected yet")
        k = self._keys
        fresh = int(await script(self.redis, INTAKE, keys=[k.callbacks],
                                 args=[k.seen, self._horizon, str(STREAM_MAXLEN), raw, *(e.event_id for e in events)]))
        self._metrics.callbacks.labels("accepted").inc(fresh)
        self._metrics.callbacks.labels("duplicate").inc(len(events) - fresh)
        return fresh, len(events) - fresh

    async def consume(self, apply: Callable[[list[InboundEvent]], object], topics: TopicFilter,
                      applied: Callable[[bytes], None], *,
                      task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every instance: apply every accepted body in order, from the oldest the stream keeps, through
        ``apply`` (the ingest pipeline). Followers keep their reducer as current as the leader's, so a new
        leader — with no platform credentials to backfill from — goes on from the cluster's state.
        ``applied(stream id)`` tells the broker how far the state goes (recorded with the next frame)."""
        k = self._keys
        backoff = Backoff(initial_s=0.05, max_s=1.0)
        last = b"0-0"
        task_status.started()
        while True:
            try:
                if self.redis is None:
                    raise StoreUnavailable("redis: not connected yet")
                answer = await call(self.redis.xread({k.callbacks: last}, count=200, block=1000))
            except StoreUnavailable:
                self._metrics.errors.labels("callbacks").inc()
                await trio.sleep(backoff.next())
                continue
            backoff.reset()
            if not answer:
                continue
            for entries in answer.values():
                for entry in entries:
                    last = entry_id(entry)
                    self._apply_entry(entry_fields(entry), apply, topics)
            applied(last)

    def _apply_entry(self, fields: dict[bytes, bytes], apply: Callable[[list[InboundEvent]], object],
                     topics: TopicFilter) -> None:
        try:
            events = parse_callback(fields[b"body"], topics)
        except InvalidInput as exc:  # validated where it landed; only a changed allowlist gets here
            log.warning("an accepted callback no longer validates (%s): skipped", exc.field)
            return
        fresh = {int(i) for i in fields[b"fresh"].split(b",") if i}
        chosen = [e for i, e in enumerate(events) if i in fresh]
        apply(chosen)
        self._metrics.callbacks.labels("applied").inc(len(chosen))
