"""Translation of Genesys observation shapes into :class:`QueueObservation` — in one place.

Each rule says what it rests on: **confirmed** (a public capture or the API docs), **inferred**, or
**assumed** (``docs/real-tenant.md`` lists the same, with the one-line check a tenant can run).

``v2.analytics.queues.{id}.observations`` bodies (reference §3):

- ``group.queueId`` names the queue; ``group.mediaType`` the media (absent: queue-level, agents only).
  *Confirmed* (captures; the SDK model ``QueueObservationDataContainer``).
- A data entry whose interval has start == end (``…T09:46:54.839Z/…T09:46:54.839Z``) is an instant
  message; its time is the platform's observation time (millisecond precision). It carries **only
  the metrics that changed** — one capture holds just ``oAlerting`` and ``oWaiting`` — so an absent
  metric is unchanged. *Confirmed* (third-party capture).
- Instant and interval figures arrive as **separate messages**; a message's instant time is its only
  time. The envelope's time (EventBridge: whole seconds) and the receive time are never used for
  ordering. *Confirmed* (captures: EventBridge ``time`` has second precision).
- An interval entry (``…T09:30:00.000Z/…T10:00:00.000Z``) carries that interval's figures so far
  (``nOffered``, ``tAnswered``, ``tAbandon``, ``tHandle``, ``oServiceLevel``, …); a metric with
  nothing to count is **omitted**, so absent counts as 0 (the reducer keeps the larger of stored
  and seen within the interval). *Confirmed* (capture without ``tAnswered`` when nobody was answered).
- ``oLongestWaiting.stats.calculatedMetricValue`` is the epoch-ms start of the oldest waiting
  interaction. Whether live messages ever carry it is **not confirmed**: the proxy also fetches it
  with the observations query (``detailMetrics: ["oWaiting"]``). *Assumed* (SDK docs of the query).
- Agent counts: ``oUserRoutingStatuses`` with a routing-status ``qualifier``, or ``oOnQueueUsers`` /
  ``oOffQueueUsers`` with routing-status qualifiers (a third-party wallboard built on the official SDK
  reads those). Whether a message lists every status or only changed ones is **not confirmed**, so a
  status missing from a live message is unchanged, and a periodic REST refresh corrects drift.
  Qualifiers that are not routing statuses are ignored. *Inferred*.

``v2.analytics.queues.{id}.activity`` bodies (``V2QueueObservationObservationCountNotification``):

- ``results[{mediaType, data[{metric, count, calculatedMetricValue}]}]``; the queue is the topic's
  ``{id}``. *Confirmed* (the SDK's topic mapping and model).
- ``count`` is the metric's absolute current value (``oWaiting``, ``oInteracting``, ``oAlerting``), per
  metric as on the observations topic: an absent metric is unchanged. *Inferred* (SDK: "the total
  number of ongoing observations for this metric and media type").
- ``oLongestWaiting.calculatedMetricValue`` is the epoch-ms start of the oldest waiting interaction;
  absent (or ``count`` 0) means nobody waits. *Assumed* (a third-party wallboard reads it so).
- ``oFlow``, ``oLongestInteracting`` and unknown metrics are ignored (nothing on the board).
- **The body carries no time**, and the frame none either. Its values are *untimed*
  (``observed_at=None``; the reducer ignores instant values without a time) until
  :func:`stamp_untimed` gives them the queue's newest applied platform time + 1 ms — the backfill's
  rule: newer than every value held, so the frame wins over what arrived before it on the socket,
  and any later platform-timed message wins over it. The proxy's clock is never compared with a
  platform time.

The guide's ``queueState`` (its fictional Event Bus topic) is whole state at ``observedAt``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
from msgspec import UnsetType

from proxy.errors import InvalidInput
from proxy.ingest import values
from proxy.ingest.wire import DataIn, Instant, MetricIn, ObservationsBody, QueueStateIn
from proxy.state.observation import (
    FLOOR,
    ROUTING_STATUSES,
    UNCHANGED,
    IntervalObservation,
    QueueObservation,
    Unchanged,
)

T = TypeVar("T")


def _opt(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


def from_queue_state(state: QueueStateIn, *, path: str = "$") -> QueueObservation:
    """The queue-update topic's ``queueState`` (already validated) as an observation.

    Raises :class:`InvalidInput` for a time outside the orderable range."""
    values.moment(state.observedAt, f"{path}.observedAt")
    interval = None
    if not isinstance(state.interval, UnsetType):
        iv = state.interval
        values.moment(iv.start, f"{path}.interval.start")
        values.moment(iv.end, f"{path}.interval.end")
        answered = _opt(iv.tAnswered)
        abandon = _opt(iv.tAbandon)
        handle = _opt(iv.tHandle)
        sl = _opt(iv.oServiceLevel)
        interval = IntervalObservation(
            start=iv.start,
            end=iv.end,
            offered=_opt(iv.nOffered),
            answered=None if answered is None else answered.count,
            answered_sum_ms=None if answered is None else answered.sum,
            abandoned=None if abandon is None else abandon.count,
            handled=None if handle is None else handle.count,
            handled_sum_ms=None if handle is None else handle.sum,
            sl_numerator=None if sl is None else sl.numerator,
            sl_denominator=None if sl is None else sl.denominator,
            sl_target=None if sl is None else sl.target,
        )
    longest: datetime | Unchanged | None = UNCHANGED
    if not isinstance(state.oLongestWaiting, UnsetType):
        longest = state.oLongestWaiting
        if longest is not None:
            values.moment(longest, f"{path}.oLongestWaiting")
    return QueueObservation(
        queue_id=state.queueId,
        media_type=state.mediaType,
        observed_at=state.observedAt,
        name=_opt(state.queueName),
        waiting=_opt(state.oWaiting),
        interacting=_opt(state.oInteracting),
        alerting=_opt(state.oAlerting),
        longest_waiting_since=longest,
        agents=_opt(state.oUserRoutingStatuses),
        agents_whole=True,
        interval=interval,
    )


def _count(metric: MetricIn, path: str) -> int:
    return values.count(metric.stats.get("count", 0), f"{path}.stats.count")


def _stat(metric: MetricIn, key: str, path: str) -> int:
    return values.amount_ms(metric.stats.get(key, 0), f"{path}.stats.{key}")


def _parse_interval(text: str, path: str) -> tuple[datetime, datetime]:
    return values.interval(text, path)


_AGENT_METRICS = ("oUserRoutingStatuses", "oOnQueueUsers", "oOffQueueUsers")
_ROUTING = frozenset(ROUTING_STATUSES)


def from_observations(body: ObservationsBody, *, path: str = "$", topic_queue: str | None = None) -> QueueObservation:
    """An ``.observations`` body as one observation (raises :class:`InvalidInput` naming the field).

    ``observed_at`` is the body's instant time, ``None`` for a body of interval figures only.
    ``topic_queue``: the queue the message's topic names; a body whose group names another is invalid.
    """
    queue_id = values.queue_id(body.group.get("queueId"), f"{path}.group.queueId", topic_queue=topic_queue)
    media_type = body.group.get("mediaType") or None
    observed_at: datetime | None = None
    waiting = interacting = alerting = None
    longest: datetime | Unchanged | None = UNCHANGED
    agents: dict[str, int] | None = None
    interval: IntervalObservation | None = None
    for d_index, data in enumerate(body.data):
        d_path = f"{path}.data[{d_index}]"
        start, end = _parse_interval(data.interval, f"{d_path}.interval")
        if start == end:
            observed_at = start if observed_at is None else max(observed_at, start)
            for m_index, metric in enumerate(data.metrics):
                m_path = f"{d_path}.metrics[{m_index}]"
                name = metric.metric
                if name in _AGENT_METRICS:
                    if metric.qualifier in _ROUTING:
                        agents = agents if agents is not None else {}
                        agents[metric.qualifier] = _count(metric, m_path)
                elif media_type is None:
                    continue  # conversation metrics belong to a media group
                elif name == "oWaiting":
                    waiting = _count(metric, m_path)
                elif name == "oInteracting":
                    interacting = _count(metric, m_path)
                elif name == "oAlerting":
                    alerting = _count(metric, m_path)
                elif name == "oLongestWaiting":
                    cmv = metric.stats.get("calculatedMetricValue")
                    longest = None if cmv is None else values.epoch_ms(cmv, f"{m_path}.stats.calculatedMetricValue")
        elif media_type is not None:
            interval = _interval_from_metrics(start, end, data.metrics, d_path)
    return QueueObservation(
        queue_id=queue_id,
        media_type=media_type,
        observed_at=observed_at,
        waiting=waiting,
        interacting=interacting,
        alerting=alerting,
        longest_waiting_since=longest,
        agents=agents,
        interval=interval,
    )


class ActivityMetricIn(msgspec.Struct, frozen=True):
    metric: str
    count: Any = None  # checked where used (proxy.ingest.values), naming the field
    calculatedMetricValue: Any = None


class ActivityGroupIn(msgspec.Struct, frozen=True):
    mediaType: str | None = None
    data: list[ActivityMetricIn] = msgspec.field(default_factory=list)


class ActivityBody(msgspec.Struct, frozen=True):
    """``v2.analytics.queues.{id}.activity`` event body (``V2QueueObservationObservationCountNotification``)."""

    results: list[ActivityGroupIn] = msgspec.field(default_factory=list)


_ACTIVITY_COUNTS = {"oWaiting": "waiting", "oInteracting": "interacting", "oAlerting": "alerting"}


def from_activity(body: ActivityBody, queue_id: str, *, path: str = "$") -> list[QueueObservation]:
    """An ``.activity`` body of ``queue_id`` as untimed observations, one per media (see the module
    doc; :func:`stamp_untimed` gives them their time). Raises :class:`InvalidInput` naming the field."""
    out: list[QueueObservation] = []
    for r_index, result in enumerate(body.results):
        r_path = f"{path}.results[{r_index}]"
        if not result.mediaType:
            raise InvalidInput(f"{r_path}.mediaType", "required")
        counts: dict[str, int] = {}
        longest: datetime | Unchanged | None = UNCHANGED
        for m_index, metric in enumerate(result.data):
            m_path = f"{r_path}.data[{m_index}]"
            field = _ACTIVITY_COUNTS.get(metric.metric)
            if field is not None:
                counts[field] = values.count(0 if metric.count is None else metric.count, f"{m_path}.count")
            elif metric.metric == "oLongestWaiting":
                n = values.count(0 if metric.count is None else metric.count, f"{m_path}.count")
                cmv = metric.calculatedMetricValue
                if cmv is not None:
                    longest = values.epoch_ms(cmv, f"{m_path}.calculatedMetricValue")
                elif n == 0:
                    longest = None
        out.append(QueueObservation(queue_id=queue_id, media_type=result.mediaType, observed_at=None,
                                    waiting=counts.get("waiting"), interacting=counts.get("interacting"),
                                    alerting=counts.get("alerting"), longest_waiting_since=longest))
    return out


_MS = timedelta(milliseconds=1)


def stamp_untimed(
    observations: list[QueueObservation], newest: Callable[[str], datetime | None]
) -> list[QueueObservation]:
    """Untimed observations (``observed_at`` None with instant values: ``.activity`` frames) stamped
    with ``newest(queue_id)`` + 1 ms, :data:`FLOOR` for a queue never seen; others unchanged.
    ``newest`` is the sink's newest applied platform time, read when the frame is applied."""
    out = []
    for obs in observations:
        untimed = obs.observed_at is None and (
            obs.waiting is not None or obs.interacting is not None or obs.alerting is not None
            or not isinstance(obs.longest_waiting_since, Unchanged))
        if untimed:
            base = newest(obs.queue_id)
            obs = msgspec.structs.replace(obs, observed_at=FLOOR if base is None else base + _MS)
        out.append(obs)
    return out


def _interval_from_metrics(start: datetime, end: datetime, metrics: list[MetricIn], path: str) -> IntervalObservation:
    offered = answered = answered_sum = abandoned = handled = handled_sum = sl_num = sl_den = None
    sl_target = None
    for m_index, metric in enumerate(metrics):
        m_path = f"{path}.metrics[{m_index}]"
        if metric.metric == "nOffered":
            offered = _count(metric, m_path)
        elif metric.metric == "tAnswered":
            answered = _count(metric, m_path)
            answered_sum = _stat(metric, "sum", m_path)
        elif metric.metric == "tAbandon":
            abandoned = _count(metric, m_path)
        elif metric.metric == "tHandle":
            handled = _count(metric, m_path)
            handled_sum = _stat(metric, "sum", m_path)
        elif metric.metric == "oServiceLevel":
            sl_num = _stat(metric, "numerator", m_path)
            sl_den = _stat(metric, "denominator", m_path)
            target = metric.stats.get("target")
            sl_target = None if target is None else values.ratio(target, f"{m_path}.stats.target")
    return IntervalObservation(
        start=start,
        end=end,
        offered=offered,
        answered=answered,
        answered_sum_ms=answered_sum,
        abandoned=abandoned,
        handled=handled,
        handled_sum_ms=handled_sum,
        sl_numerator=sl_num,
        sl_denominator=sl_den,
        sl_target=sl_target,
    )


# ---------------------------------------------------------------------------------------------------
# REST backfill: ``POST /api/v2/analytics/queues/observations/query`` (o* metrics, routing statuses,
# ``detailMetrics: ["oWaiting"]`` for longest waiting) and ``.../conversations/aggregates/query``
# (the 30-minute interval figures). Assumptions, like the ones above, live only here:
# - conversation metrics come per ``group {queueId, mediaType}``; routing statuses under
#   ``group {queueId}`` with one entry per ``qualifier``, zero counts omitted (the set is whole);
# - longest waiting = the earliest ``observations[].observationDate`` of ``oWaiting`` (null when
#   nobody waits); no details at all leaves it unchanged;
# - the aggregates answer may hold several intervals per group: the newest one is the current one;
# - agent counts come as ``oUserRoutingStatuses`` (or ``oOnQueueUsers``/``oOffQueueUsers``) per qualifier,
#   zero counts omitted: the set is whole.
# The response carries no observation time: the caller supplies one per queue (``observed_at``), and
# ``answered_at`` (its own clock) says how old a longest-wait figure is, for display only.


class ObservationDetailIn(msgspec.Struct, frozen=True):
    observationDate: Instant | None = None


class QueryMetricIn(msgspec.Struct, frozen=True):
    metric: str
    stats: dict[str, Any] = msgspec.field(default_factory=dict)  # checked where used
    qualifier: str | None = None
    observations: list[ObservationDetailIn] | None = None


class QueryResultIn(msgspec.Struct, frozen=True):
    group: dict[str, str]
    data: list[QueryMetricIn] = msgspec.field(default_factory=list)


class ObservationQueryResponse(msgspec.Struct, frozen=True):
    results: list[QueryResultIn] = msgspec.field(default_factory=list)


class AggregateResultIn(msgspec.Struct, frozen=True):
    group: dict[str, str]
    data: list[DataIn] = msgspec.field(default_factory=list)


class AggregateQueryResponse(msgspec.Struct, frozen=True):
    results: list[AggregateResultIn] = msgspec.field(default_factory=list)


def _longest_from_details(metric: QueryMetricIn, waiting: int, path: str) -> datetime | Unchanged | None:
    if waiting == 0:
        return None
    if metric.observations is None:
        return UNCHANGED
    dates = [values.moment(o.observationDate, f"{path}.observations[{i}].observationDate")
             for i, o in enumerate(metric.observations) if o.observationDate is not None]
    return min(dates) if dates else UNCHANGED


def from_backfill(
    observations: ObservationQueryResponse,
    aggregates: AggregateQueryResponse | None,
    *,
    observed_at: Callable[[str], datetime],
    answered_at: datetime | None = None,
    names: Mapping[str, str] | None = None,
    divisions: Mapping[str, str] | None = None,
) -> list[QueueObservation]:
    """The backfill answers as observations: one per (queue, media) plus one queue-level (agents).

    ``observed_at(queue_id)`` gives the time each queue's observations carry; ``names`` the queue
    names and ``divisions`` their divisions' names (from the routing API). Raises
    :class:`InvalidInput` for a malformed interval.
    """
    names = names or {}
    divisions = divisions or {}
    media: dict[tuple[str, str], dict[str, object]] = {}
    agents: dict[str, dict[str, int]] = {}
    for r_index, result in enumerate(observations.results):
        queue_id = result.group.get("queueId")
        if not queue_id:
            continue
        media_type = result.group.get("mediaType")
        if media_type is None:
            counts = agents.setdefault(queue_id, {})
            for m_index, metric in enumerate(result.data):
                if metric.metric in _AGENT_METRICS and metric.qualifier in _ROUTING:
                    counts[metric.qualifier] = values.count(metric.stats.get("count", 0),
                                                            f"$.results[{r_index}].data[{m_index}].stats.count")
            continue
        fields = media.setdefault((queue_id, media_type), {})
        for m_index, metric in enumerate(result.data):
            m_path = f"$.results[{r_index}].data[{m_index}]"
            if metric.metric in ("oWaiting", "oInteracting", "oAlerting"):
                count = _count(MetricIn(metric=metric.metric, stats=metric.stats), m_path)
                fields[metric.metric] = count
                if metric.metric == "oWaiting":
                    fields["longest"] = _longest_from_details(metric, count, m_path)
    intervals: dict[tuple[str, str], IntervalObservation] = {}
    for r_index, agg in enumerate(aggregates.results if aggregates is not None else []):
        queue_id, media_type = agg.group.get("queueId"), agg.group.get("mediaType")
        if not queue_id or not media_type:
            continue
        for d_index, data in enumerate(agg.data):
            d_path = f"$.results[{r_index}].data[{d_index}]"
            start, end = _parse_interval(data.interval, f"{d_path}.interval")
            seen = intervals.get((queue_id, media_type))
            if seen is None or start > seen.start:
                intervals[(queue_id, media_type)] = _interval_from_metrics(start, end, data.metrics, d_path)
    out: list[QueueObservation] = []
    for key in dict.fromkeys([*media, *intervals]):
        queue_id, media_type = key
        fields = media.get(key, {})
        longest = fields.get("longest", UNCHANGED)
        out.append(QueueObservation(
            queue_id=queue_id,
            media_type=media_type,
            observed_at=observed_at(queue_id),
            name=names.get(queue_id),
            division=divisions.get(queue_id),
            waiting=fields.get("oWaiting"),  # type: ignore[arg-type]  # ints stored above
            interacting=fields.get("oInteracting"),  # type: ignore[arg-type]
            alerting=fields.get("oAlerting"),  # type: ignore[arg-type]
            longest_waiting_since=longest,  # type: ignore[arg-type]
            longest_as_of=answered_at,
            interval=intervals.get(key),
        ))
    for queue_id, counts in agents.items():
        out.append(QueueObservation(queue_id=queue_id, media_type=None, observed_at=observed_at(queue_id),
                                    name=names.get(queue_id), division=divisions.get(queue_id), agents=counts,
                                    agents_whole=True))
    return out
