"""The real platform's ``v2.analytics.queues.{id}.observations`` bodies, as public captures show them.

Evidence (``shared/reference/genesys-platform.md``, "Observation message semantics"): instant values
and 30-minute interval figures come in separate messages; an instant message (interval start = end,
ms precision) carries only the metrics that changed; an interval message carries the interval's
figures and omits metrics with nothing to count. Pure functions of values; which messages to send
when is decided in ``stream.py``.
"""

from __future__ import annotations

from typing import Final

from .model import ROUTING_STATUSES, AgentCounts, Durations, IntervalStats, MediaState
from .wire import JSON, interval_text, iso, service_level_metric

INSTANT_METRICS: Final = ("oAlerting", "oInteracting", "oWaiting")
"""Instant metrics of a media group, in the order the capture lists them (``oAlerting``, ``oWaiting``)."""
ON_QUEUE_STATUSES: Final = tuple(s for s in ROUTING_STATUSES if s != "OFF_QUEUE")


def instant_values(st: MediaState) -> dict[str, int]:
    return {"oAlerting": st.alerting, "oInteracting": st.interacting, "oWaiting": st.waiting}


def changed_instant_metrics(before: MediaState | None, after: MediaState) -> list[str]:
    """Instant metrics whose count differs (all of them when nothing was sent before).

    ``oLongestWaiting`` is never one of them: whether the topic carries it is not confirmed, so the
    real shape leaves it to the observations query (``detailMetrics: ["oWaiting"]``).
    """
    now = instant_values(after)
    if before is None:
        return list(INSTANT_METRICS)
    old = instant_values(before)
    return [m for m in INSTANT_METRICS if old[m] != now[m]]


def instant_body(queue_id: str, media: str, t_ms: int, st: MediaState, metrics: list[str]) -> JSON:
    """An instant message: ``interval`` ``t/t`` and only ``metrics`` (the changed ones)."""
    values = instant_values(st)
    t = iso(t_ms)
    return {
        "group": {"queueId": queue_id, "mediaType": media},
        "data": [{"interval": f"{t}/{t}", "metrics": [{"metric": m, "stats": {"count": values[m]}} for m in metrics]}],
    }


def _durations(metric: str, d: Durations) -> JSON:
    return {"metric": metric, "stats": {"max": d.max_ms, "min": d.min_ms, "count": d.count, "sum": d.sum_ms}}


def interval_metrics(iv: IntervalStats) -> list[JSON]:
    """The figures of one interval, metrics with nothing to count left out.

    ``tAcd`` and ``tWait`` are both the wait of every interaction that left the queue (answered or
    abandoned): the world has no flow-outs or holds that would tell them apart. ``tConnected`` is not
    modelled (its meaning for a queue is not confirmed).
    """
    out: list[JSON] = []
    for metric, d in (
        ("tAlert", iv.t_alert),
        ("tAnswered", iv.t_answered),
        ("tAbandon", iv.t_abandon),
    ):
        if d.count:
            out.append(_durations(metric, d))
    if iv.offered:
        out.append({"metric": "nOffered", "stats": {"count": iv.offered}})
    for metric, d in (("tAcd", iv.t_acd), ("tNotResponding", iv.t_not_responding), ("tHandle", iv.t_handle)):
        if d.count:
            out.append(_durations(metric, d))
    if iv.sl_denominator:
        out.append(service_level_metric(iv))
    if iv.t_acd.count:
        out.append(_durations("tWait", iv.t_acd))
    return out


def interval_body(queue_id: str, media: str, iv: IntervalStats) -> JSON:
    """An interval message: ``interval`` = the 30-minute bounds, its non-empty figures."""
    return {
        "group": {"queueId": queue_id, "mediaType": media},
        "data": [{"interval": interval_text(iv), "metrics": interval_metrics(iv)}],
    }


def agent_metrics(agents: AgentCounts, statuses: list[str], *, metric: str) -> list[JSON]:
    """Agent-count entries for ``statuses`` (zero counts included), one per qualifier.

    ``metric`` ``oUserRoutingStatuses``: every status under that metric. ``oOnQueueUsers``: the
    on-queue statuses under ``oOnQueueUsers`` and OFF_QUEUE under ``oOffQueueUsers`` (how a
    third-party wallboard on the official SDK reads them; the qualifier of ``oOffQueueUsers`` is
    assumed).
    """
    counts = dict(agents)
    out: list[JSON] = []
    for s in statuses:
        name = metric
        if metric == "oOnQueueUsers" and s not in ON_QUEUE_STATUSES:
            name = "oOffQueueUsers"
        out.append({"metric": name, "qualifier": s, "stats": {"count": counts[s]}})
    return out


def changed_statuses(before: AgentCounts | None, after: AgentCounts, *, mode: str) -> list[str]:
    """Statuses an agent message lists: all five (``whole``, or the first time), else the changed ones."""
    if mode == "whole" or before is None:
        return list(ROUTING_STATUSES)
    old = dict(before)
    return [s for s, n in after if old.get(s) != n]


def agents_body(queue_id: str, t_ms: int, metrics: list[JSON]) -> JSON:
    """An agent-count message under ``group {queueId}`` (no ``mediaType``), instant interval."""
    t = iso(t_ms)
    return {"group": {"queueId": queue_id}, "data": [{"interval": f"{t}/{t}", "metrics": metrics}]}


def activity_body(media: dict[str, MediaState]) -> JSON:
    """A ``v2.analytics.queues.{id}.activity`` body (``V2QueueObservationObservationCountNotification``):
    ``results`` per mediaType, each with the whole instant state as ``{metric, count}``;
    ``oLongestWaiting`` has ``count`` = waiting and ``calculatedMetricValue`` = epoch ms at which the
    oldest waiting interaction began (absent when nobody waits). ``oFlow`` and ``oLongestInteracting``
    are not sent (the world has no flows; a change message does not carry agent-held start times)."""
    results = []
    for m, st in media.items():
        longest: JSON = {"metric": "oLongestWaiting", "count": st.waiting}
        if st.longest_waiting_ms is not None:
            longest["calculatedMetricValue"] = st.longest_waiting_ms
        results.append({"mediaType": m, "data": [
            {"metric": "oWaiting", "count": st.waiting},
            {"metric": "oInteracting", "count": st.interacting},
            {"metric": "oAlerting", "count": st.alerting},
            longest,
        ]})
    return {"results": results}
