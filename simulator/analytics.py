"""REST analytics and routing queries, answered from the world's current state (pure functions)."""

from __future__ import annotations

from typing import Any, Final

from . import realwire, wire
from .enums import AGGREGATE_DIMENSIONS, AGGREGATE_METRICS, OBSERVATION_DETAIL_METRICS, OBSERVATION_METRICS
from .model import IntervalStats
from .world import World

_USER_METRICS: Final = (
    "oUserRoutingStatuses",
    "oActiveUsers",
    "oMemberUsers",
    "oOffQueueUsers",
    "oOnQueueUsers",
    "oUserPresences",
)
_CONVERSATION_METRICS: Final = ("oWaiting", "oInteracting", "oAlerting", "oLongestWaiting", "oLongestInteracting")
CORE_AGGREGATE_METRICS: Final = ("nOffered", "tAnswered", "tAbandon", "oServiceLevel", "tHandle")
"""Aggregate metrics always answered, zero counts included; the other modelled ones (``tAlert``,
``tAcd``, ``tNotResponding``, ``tWait``) only when non-zero, and every other metric of the SDK's
enum is omitted: the world never counts them (no transfers, holds, callbacks, outbound, …)."""


class QueryError(ValueError):
    """A query the platform refuses with 400; the message names the field."""


def _predicates(node: Any, path: str) -> list[tuple[str, str]]:
    """(dimension, value) of every predicate in a filter tree."""
    if node is None:
        return []
    if not isinstance(node, dict):
        raise QueryError(f"{path}: must be an object")
    out: list[tuple[str, str]] = []
    for i, p in enumerate(node.get("predicates") or []):
        if not isinstance(p, dict) or not isinstance(p.get("value"), str):
            raise QueryError(f"{path}.predicates[{i}]: dimension and value are required")
        dim = p.get("dimension")
        if dim not in ("queueId", "mediaType"):
            raise QueryError(f"{path}.predicates[{i}].dimension: must be queueId or mediaType")
        out.append((dim, p["value"]))
    for i, c in enumerate(node.get("clauses") or []):
        out.extend(_predicates(c, f"{path}.clauses[{i}]"))
    return out


def _selection(world: World, flt: Any) -> tuple[list[str], set[str] | None]:
    preds = _predicates(flt, "filter")
    ids = [v for d, v in preds if d == "queueId"]
    media = {v for d, v in preds if d == "mediaType"} or None
    if not ids:  # lenient: no queue predicate selects every queue (UNCONFIRMED on the real platform)
        ids = [q.queue_id for q in world.queues]
    return [i for i in dict.fromkeys(ids) if i in world.queue_by_id], media


def observations_query(world: World, body: Any) -> wire.JSON:
    """``POST /api/v2/analytics/queues/observations/query``. Raises ``QueryError``."""
    if not isinstance(body, dict):
        raise QueryError("body: a JSON object is required")
    if "filter" not in body:
        raise QueryError("filter: required")
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise QueryError("metrics: a non-empty list is required")
    details = body.get("detailMetrics") or []
    for field, names, allowed in (
        ("metrics", metrics, OBSERVATION_METRICS),
        ("detailMetrics", details, OBSERVATION_DETAIL_METRICS),
    ):
        for i, m in enumerate(names):
            if m not in allowed:
                raise QueryError(f"{field}[{i}]: unknown metric {m!r}")
    wanted = set(metrics) | set(details)
    queue_ids, media_filter = _selection(world, body.get("filter"))
    results: list[wire.JSON] = []
    for qid in queue_ids:
        q = world.queue_by_id[qid]
        counts = dict(world.agent_counts(qid))
        user_data: list[wire.JSON] = []
        for metric in _USER_METRICS:
            if metric not in wanted:
                continue
            if metric == "oUserRoutingStatuses":
                user_data.extend(wire.routing_status_metrics(world.agent_counts(qid)))
            elif metric in ("oOnQueueUsers", "oOffQueueUsers"):
                # one entry per routing status, as qualifier, zero counts omitted (as for
                # oUserRoutingStatuses): third-party code on the official SDK sums the oOnQueueUsers
                # entries and picks qualifier IDLE; OFF_QUEUE as oOffQueueUsers' qualifier is assumed
                statuses = [s for s, n in counts.items() if n and (s == "OFF_QUEUE") == (metric == "oOffQueueUsers")]
                entries = realwire.agent_metrics(world.agent_counts(qid), statuses, metric="oOnQueueUsers")
                user_data.extend(entries)
            elif metric != "oUserPresences":
                on_queue = sum(n for s, n in counts.items() if s != "OFF_QUEUE")
                value = {"oActiveUsers": on_queue, "oMemberUsers": sum(counts.values())}[metric]
                user_data.append({"metric": metric, "stats": {"count": value}})
        if any(m in wanted for m in _USER_METRICS):
            results.append({"group": {"queueId": qid}, "data": user_data})
        if not any(m in wanted for m in _CONVERSATION_METRICS):
            continue
        for m in q.media:
            if media_filter is not None and m not in media_filter:
                continue
            st = world.media_state(qid, m)
            values = {"oWaiting": st.waiting, "oInteracting": st.interacting, "oAlerting": st.alerting}
            values["oLongestWaiting"], values["oLongestInteracting"] = st.waiting, st.interacting
            data: list[wire.JSON] = []
            for metric in _CONVERSATION_METRICS:
                if metric not in wanted:
                    continue
                entry: wire.JSON = {"metric": metric, "stats": {"count": values[metric]}}
                since = _longest_since(world, qid, m, metric)
                if since is not None:  # epoch ms the oldest began (the legacy topic's reading, [3P-NGQ])
                    entry["stats"]["calculatedMetricValue"] = since
                if metric in details:
                    entry["truncated"] = False
                    if metric == "oWaiting":
                        entry["observations"] = [wire.observation_detail(d) for d in world.waiting_details(qid, m)]
                data.append(entry)
            results.append({"group": {"queueId": qid, "mediaType": m}, "data": data})
    return {"results": results}


def _longest_since(world: World, queue_id: str, media: str, metric: str) -> int | None:
    """Epoch ms at which the oldest waiting (``oLongestWaiting``) or interacting
    (``oLongestInteracting``) interaction of (queue, media) began; None for other metrics or nobody."""
    if metric == "oLongestWaiting":
        return world.media_state(queue_id, media).longest_waiting_ms
    if metric == "oLongestInteracting":
        return next((d.since_ms for d in world.held_details(queue_id, media) if d.answered), None)
    return None


def aggregate_metrics(iv: IntervalStats, metrics: list[str]) -> list[wire.JSON]:
    """The requested metrics the world counts, in the requested order (see ``CORE_AGGREGATE_METRICS``)."""
    core = [m for m in dict.fromkeys(metrics) if m in CORE_AGGREGATE_METRICS]
    known = {d["metric"]: d for d in realwire.interval_metrics(iv)}
    known.update({d["metric"]: d for d in wire.aggregate_metrics(iv, core)})
    return [known[m] for m in dict.fromkeys(metrics) if m in known]


def parse_group_by(body: dict[str, Any], enum: tuple[str, ...], modelled: tuple[str, ...]) -> list[str] | None:
    """A query's ``groupBy`` dimensions; ``None`` when one of them is a dimension of the platform's
    ``enum`` that the world does not model (the caller answers "no data"). An unknown name is a
    :class:`QueryError` naming ``groupBy[i]``, as the platform's 400."""
    group_by = body.get("groupBy") or []
    if not isinstance(group_by, list):
        raise QueryError("groupBy: must be a list")
    for i, g in enumerate(group_by):
        if g not in enum:
            raise QueryError(f"groupBy[{i}]: unknown dimension {g!r}")
    if any(g not in modelled for g in group_by):
        return None
    return list(dict.fromkeys(group_by))


def aggregates_query(world: World, body: Any) -> wire.JSON:
    """``POST /api/v2/analytics/conversations/aggregates/query`` over the current 30-minute interval.

    Only the current interval is kept; a query interval that does not overlap it returns no results.
    Raises ``QueryError``.
    """
    if not isinstance(body, dict):
        raise QueryError("body: a JSON object is required")
    interval = body.get("interval")
    try:
        start_txt, end_txt = interval.split("/") if isinstance(interval, str) else ("", "")
        start, end = wire.parse_iso_ms(start_txt), wire.parse_iso_ms(end_txt)
    except ValueError:
        raise QueryError("interval: an ISO-8601 'start/end' is required") from None
    if end <= start:
        raise QueryError("interval: end must be after start")
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise QueryError("metrics: a non-empty list is required")
    for i, m in enumerate(metrics):
        if m not in AGGREGATE_METRICS:
            raise QueryError(f"metrics[{i}]: unknown metric {m!r}")
    group_by = parse_group_by(body, AGGREGATE_DIMENSIONS, ("queueId", "mediaType"))
    if group_by is None:
        return {"results": []}  # a dimension the world does not model: a valid answer with no data
    queue_ids, media_filter = _selection(world, body.get("filter"))
    buckets: dict[tuple[tuple[str, str], ...], list[IntervalStats]] = {}
    for qid in queue_ids:
        for m in world.queue_by_id[qid].media:
            if media_filter is not None and m not in media_filter:
                continue
            iv = world.media_state(qid, m).interval
            if iv.end_ms <= start or iv.start_ms >= end:
                continue
            key = tuple((g, qid if g == "queueId" else m) for g in group_by)
            buckets.setdefault(key, []).append(iv)
    results = []
    for key, ivs in buckets.items():
        total = IntervalStats.combined(ivs)
        text = wire.interval_text(total) if body.get("granularity") else interval
        answered = aggregate_metrics(total, metrics)
        if answered:  # nothing counted for any requested metric: no data, as for an empty interval
            results.append({"group": dict(key), "data": [{"interval": text, "metrics": answered}]})
    return {"results": results}


def routing_queues(world: World, *, page_size: int, page_number: int) -> wire.JSON:
    """``GET /api/v2/routing/queues``: a page of ``{id, name, division, selfUri}`` entities, 1-based pages
    (the SDK's ``Queue``: ``division`` is ``{id, name, selfUri}``)."""
    total = len(world.queues)
    first = (page_number - 1) * page_size
    entities = [
        {**wire.queue_entity(q), "division": {"id": q.division.division_id, "name": q.division.name,
                                              "selfUri": f"/api/v2/authorization/divisions/{q.division.division_id}"}}
        for q in world.queues[first : first + page_size]
    ]
    return {
        "entities": entities,
        "pageNumber": page_number,
        "pageSize": page_size,
        "total": total,
        "pageCount": (total + page_size - 1) // page_size,
    }
