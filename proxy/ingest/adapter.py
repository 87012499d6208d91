"""Translation of Genesys observation shapes into :class:`QueueObservation` — in one place.

Parts of the real ``.observations`` body are unconfirmed on a live tenant (reference §3, §9):
the ``group`` keys, how routing statuses and ``oLongestWaiting`` appear. Every such assumption
lives here, so a correction lands in one module:

- ``group.queueId`` names the queue; ``group.mediaType`` the media (absent: queue-level, agents only);
- a data entry whose interval has start == end is an instant observation (o* metrics; its time is
  the observation time); any other interval carries that interval's nOffered/tAnswered/tAbandon/
  oServiceLevel figures;
- ``oLongestWaiting.stats.calculatedMetricValue`` is the epoch-ms start of the oldest waiting
  interaction, absent when nobody waits;
- ``oUserRoutingStatuses`` arrives as one metric per ``qualifier``; the set is whole (omitted = 0).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from msgspec import UNSET, UnsetType

from proxy.errors import InvalidInput
from proxy.ingest.wire import MetricIn, ObservationsBody, QueueStateIn
from proxy.state.observation import UNCHANGED, IntervalObservation, QueueObservation, Unchanged
from proxy.timefmt import parse_iso

T = TypeVar("T")


def _opt(value: T | UnsetType) -> T | None:
    return None if value is UNSET else value  # type: ignore[return-value]  # UNSET excluded above


def from_queue_state(state: QueueStateIn) -> QueueObservation:
    """The queue-update topic's ``queueState`` (already validated) as an observation."""
    interval = None
    if not isinstance(state.interval, UnsetType):
        iv = state.interval
        answered = _opt(iv.tAnswered)
        abandon = _opt(iv.tAbandon)
        sl = _opt(iv.oServiceLevel)
        interval = IntervalObservation(
            start=iv.start,
            end=iv.end,
            offered=_opt(iv.nOffered),
            answered=None if answered is None else answered.count,
            answered_sum_ms=None if answered is None else answered.sum,
            abandoned=None if abandon is None else abandon.count,
            sl_numerator=None if sl is None else sl.numerator,
            sl_denominator=None if sl is None else sl.denominator,
            sl_target=None if sl is None else sl.target,
        )
    longest: datetime | None | Unchanged = UNCHANGED
    if not isinstance(state.oLongestWaiting, UnsetType):
        longest = state.oLongestWaiting
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
        interval=interval,
    )


def _count(metric: MetricIn, path: str) -> int:
    value = metric.stats.get("count", 0)
    if value < 0 or value != int(value):
        raise InvalidInput(f"{path}.stats.count", "expected a non-negative integer")
    return int(value)


def _stat(metric: MetricIn, key: str, path: str) -> int:
    value = metric.stats.get(key, 0)
    if value < 0:
        raise InvalidInput(f"{path}.stats.{key}", "expected a non-negative number")
    return int(value)


def _parse_interval(text: str, path: str) -> tuple[datetime, datetime]:
    start, sep, end = text.partition("/")
    try:
        if not sep:
            raise ValueError("expected '<start>/<end>'")
        return parse_iso(start), parse_iso(end)
    except ValueError as exc:
        raise InvalidInput(path, f"bad interval {text!r}: {exc}") from None


def from_observations(body: ObservationsBody, *, fallback_time: datetime, path: str = "$") -> QueueObservation:
    """An ``.observations`` body as one observation (raises :class:`InvalidInput` naming the field).

    ``fallback_time`` is the observation time when the body has no instant interval (the envelope's
    time, or the receive time for a WebSocket frame, which carries none).
    """
    queue_id = body.group.get("queueId")
    if not queue_id:
        raise InvalidInput(f"{path}.group.queueId", "required")
    media_type = body.group.get("mediaType") or None
    observed_at: datetime | None = None
    waiting = interacting = alerting = None
    longest: datetime | None | Unchanged = UNCHANGED
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
                if name == "oUserRoutingStatuses":
                    if metric.qualifier:
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
                    longest = None if cmv is None else datetime.fromtimestamp(cmv / 1000.0, UTC)
        elif media_type is not None:
            interval = _interval_from_metrics(start, end, data.metrics, d_path)
    return QueueObservation(
        queue_id=queue_id,
        media_type=media_type,
        observed_at=observed_at if observed_at is not None else fallback_time,
        waiting=waiting,
        interacting=interacting,
        alerting=alerting,
        longest_waiting_since=longest,
        agents=agents,
        interval=interval,
    )


def _interval_from_metrics(start: datetime, end: datetime, metrics: list[MetricIn], path: str) -> IntervalObservation:
    offered = answered = answered_sum = abandoned = sl_num = sl_den = None
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
        elif metric.metric == "oServiceLevel":
            sl_num = _stat(metric, "numerator", m_path)
            sl_den = _stat(metric, "denominator", m_path)
            sl_target = metric.stats.get("target")
    return IntervalObservation(
        start=start,
        end=end,
        offered=offered,
        answered=answered,
        answered_sum_ms=answered_sum,
        abandoned=abandoned,
        sl_numerator=sl_num,
        sl_denominator=sl_den,
        sl_target=sl_target,
    )
