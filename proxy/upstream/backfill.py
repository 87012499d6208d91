"""REST backfill: fetch the current state and feed it through the same ingestor as live events.

The platform replays nothing (reference §2), so after every (re)connect, handover and at start the
upstream asks the observations query (counts, routing statuses, ``detailMetrics: ["oWaiting"]`` for
the longest wait) and the aggregates query (the current 30-minute interval's figures).

Observation time. The answers carry none, and the reducer drops anything not newer than what it
holds. A backfilled queue gets the queue's newest applied time *before the query* + 1 ms: newer
than every event it replaces, older than every event that arrived while the query ran (those are
at least as fresh, and win). A queue never seen gets the newest time of any queue (the upstream's
own clock, so skew with the platform does not matter), or the wall clock at first start.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from proxy.errors import InvalidInput, UpstreamError
from proxy.ingest.adapter import AggregateQueryResponse, from_backfill
from proxy.timefmt import iso, utcnow
from proxy.upstream.platform import Platform
from proxy.upstream.sinks import ObservationSink

log = logging.getLogger("queuecast.upstream.backfill")

#: Queue ids per query (each id is one predicate of the filter).
QUERY_CHUNK = 100
_MS = timedelta(milliseconds=1)
_HALF_HOUR = timedelta(minutes=30)


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


def aggregates_body(ids: list[str], *, around: datetime) -> dict[str, object]:
    """The current 30-minute interval around ``around`` (one before it, one after it for clock skew)."""
    start = around.replace(minute=around.minute - around.minute % 30, second=0, microsecond=0) - _HALF_HOUR
    end = start + 3 * _HALF_HOUR
    return {"interval": f"{iso(start)}/{iso(end)}", "granularity": "PT30M", "groupBy": ["queueId", "mediaType"],
            "filter": _queue_filter(ids), "metrics": ["nOffered", "tAnswered", "tAbandon", "tHandle", "oServiceLevel"]}


async def backfill(
    platform: Platform,
    sink: ObservationSink,
    queue_ids: Iterable[str],
    *,
    names: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Counter[str]:
    """Fetch and apply the current state of ``queue_ids``; returns the ingest outcomes.

    Raises :class:`~proxy.errors.UpstreamError` when the observations query fails or answers
    something malformed (:class:`~proxy.errors.InvalidInput` is translated); a failing
    aggregates query (e.g. a missing ``analytics:conversationAggregate:view``) only loses the
    interval figures and is logged.
    """
    ids = list(dict.fromkeys(queue_ids))
    outcomes: Counter[str] = Counter()
    times = {qid: sink.newest_time(qid) for qid in ids}
    all_bases = {qid: t for qid, t in times.items() if t is not None}
    newest = max(all_bases.values(), default=None)
    fallback = newest + _MS if newest is not None else now()
    for chunk in _chunks(ids, QUERY_CHUNK):
        bases = {qid: all_bases[qid] for qid in chunk if qid in all_bases}
        observations = await platform.observations_query(observations_body(chunk))
        aggregates: AggregateQueryResponse | None = None
        try:
            aggregates = await platform.aggregates_query(aggregates_body(chunk, around=newest or now()))
        except UpstreamError as exc:
            log.warning("backfill without interval figures: %s", exc)

        def observed_at(qid: str, bases: dict[str, datetime] = bases) -> datetime:
            base = bases.get(qid)
            return base + _MS if base is not None else fallback

        try:
            translated = from_backfill(observations, aggregates, observed_at=observed_at, names=names)
        except InvalidInput as exc:
            raise UpstreamError(f"backfill: unusable answer at {exc.field}: {exc.problem}") from exc
        outcomes += sink.apply(translated)
    log.info("backfill of %d queue(s): %s", len(ids), dict(outcomes))
    return outcomes
