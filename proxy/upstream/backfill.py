"""REST backfill: fetch the current state and feed it through the same ingestor as live events.

The platform replays nothing (reference §2), so after every (re)connect, handover and at start the
upstream asks the observations query (counts, routing statuses, ``detailMetrics: ["oWaiting"]`` for
the longest wait) and the aggregates query (the current 30-minute interval's figures).

Observation time. The answers carry none, and the reducer applies a value only when its time is
newer than the held value's. A backfilled queue gets the queue's newest applied platform time
*before the query* + 1 ms: newer than every value it replaces, older than every event that arrived
while the query ran (those are at least as fresh, and win). A queue never seen live gets
:data:`~proxy.state.observation.FLOOR`, so any live message wins over it. The proxy's clock is
never compared with a platform time; it only picks the interval to ask for (the one containing
"now", :meth:`ObservationSink.platform_now`) and says how old a longest-wait figure is.

The same observations query, without the aggregates, is the periodic *refresh* (``refresh.py``):
live messages may not carry the longest wait, and may list only changed routing statuses.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from proxy.errors import InvalidInput, UpstreamError
from proxy.ingest.adapter import AggregateQueryResponse, from_backfill
from proxy.state.observation import FLOOR, INTERVAL, interval_containing
from proxy.timefmt import iso, utcnow
from proxy.upstream.platform import Platform, QueueDirectory
from proxy.upstream.sinks import ObservationSink

log = logging.getLogger("queuecast.upstream.backfill")

#: Queue ids per query (each id is one predicate of the filter).
QUERY_CHUNK = 100
_MS = timedelta(milliseconds=1)


def _chunks(ids: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _queue_filter(ids: list[str]) -> dict[str, object]:
    return {"type": "or", "predicates": [{"type": "dimension", "dimension": "queueId", "operator": "matches",
                                          "value": qid} for qid in ids]}


def observations_body(ids: list[str]) -> dict[str, object]:
    return {"filter": _queue_filter(ids), "metrics": ["oWaiting", "oInteracting", "oAlerting",
                                                     "oUserRoutingStatuses"],
            "detailMetrics": ["oWaiting"]}


def aggregates_body(ids: list[str], *, now: datetime) -> dict[str, object]:
    """The figures of the 30-minute interval that contains ``now``, and of the next one: the platform's
    clock may be ahead of ours (a simulator at speed, skew); the newest interval with data wins
    (``from_backfill``). Never an earlier interval: after a quiet spell that would show the last busy
    interval's figures as current."""
    start, end = interval_containing(now)
    return {"interval": f"{iso(start)}/{iso(end + INTERVAL)}", "granularity": "PT30M",
            "groupBy": ["queueId", "mediaType"], "filter": _queue_filter(ids),
            "metrics": ["nOffered", "tAnswered", "tAbandon", "tHandle", "oServiceLevel"]}


async def backfill(
    platform: Platform,
    sink: ObservationSink,
    queue_ids: Iterable[str],
    *,
    directory: QueueDirectory | None = None,
    intervals: bool = True,
    clock: Callable[[], datetime] = utcnow,
) -> Counter[str]:
    """Fetch and apply the current state of ``queue_ids``; returns the ingest outcomes. ``directory``
    (from discovery) gives their names and divisions.

    With ``intervals`` the aggregates query adds the current interval's figures (a failure there,
    e.g. a missing ``analytics:conversationAggregate:view``, only loses them and is logged).
    Raises :class:`~proxy.errors.UpstreamError` when the observations query fails or answers
    something malformed (:class:`~proxy.errors.InvalidInput` is translated).
    """
    ids = list(dict.fromkeys(queue_ids))
    outcomes: Counter[str] = Counter()
    bases = {qid: sink.newest_time(qid) for qid in ids}  # taken before the query: see the module doc

    def observed_at(qid: str) -> datetime:
        base = bases.get(qid)
        return base + _MS if base is not None else FLOOR

    for chunk in _chunks(ids, QUERY_CHUNK):
        observations = await platform.observations_query(observations_body(chunk))
        answered_at = clock()
        aggregates: AggregateQueryResponse | None = None
        if intervals:
            try:
                aggregates = await platform.aggregates_query(aggregates_body(chunk, now=sink.platform_now()))
            except UpstreamError as exc:
                log.warning("backfill without interval figures: %s", exc)
        try:
            translated = from_backfill(observations, aggregates, observed_at=observed_at, answered_at=answered_at,
                                       names=directory.names if directory else None,
                                       divisions=directory.divisions if directory else None)
        except InvalidInput as exc:
            raise UpstreamError(f"backfill: unusable answer at {exc.field}: {exc.problem}") from exc
        outcomes += sink.apply(translated, live=False)
    log.log(logging.INFO if intervals else logging.DEBUG, "%s of %d queue(s): %s",
            "backfill" if intervals else "refresh", len(ids), dict(outcomes))
    return outcomes
