"""The activity queries: ``POST /api/v2/analytics/conversations/activity/query`` and
``POST /api/v2/analytics/routing/activity/query``, answered from the world's current state.

Shapes are the SDK's (``ConversationActivityQuery``/``…Response``, ``RoutingActivityQuery``/
``…Response``; reference §4 "Newer activity queries"): ``metrics`` is a list of
``{metric, details}``, ``groupBy`` lists dimensions, ``filter`` is a tree of ``{type, clauses,
predicates[{type, dimension, operator, value}]}``; results are ``{group, data[{metric, qualifier?,
count, calculatedMetricValue?, entityIds?}], truncated, entities?}``. Pure functions; errors are
``QueryError`` (400) naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from . import wire
from .analytics import QueryError, parse_group_by
from .enums import (
    ACTIVITY_ORDERS,
    CONVERSATION_ACTIVITY_DIMENSIONS,
    CONVERSATION_ACTIVITY_METRICS,
    ROUTING_ACTIVITY_DIMENSIONS,
    ROUTING_ACTIVITY_METRICS,
)
from .model import ROUTING_STATUSES
from .world import World

CONVERSATION_GROUPS: Final = ("queueId", "mediaType")
"""``groupBy`` dimensions the world can split conversations by; grouping by another dimension of the
enum gets a valid answer with no data (the world does not model it), an unknown name a 400."""
ROUTING_GROUPS: Final = ("queueId",)
_ON_QUEUE: Final = tuple(s for s in ROUTING_STATUSES if s != "OFF_QUEUE")


def _metrics(body: dict[str, Any], allowed: tuple[str, ...]) -> list[tuple[str, bool]]:
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise QueryError("metrics: a non-empty list is required")
    out = []
    for i, m in enumerate(metrics):
        name = m.get("metric") if isinstance(m, dict) else None
        if name not in allowed:
            raise QueryError(f"metrics[{i}].metric: unknown metric {name!r}")
        details = m.get("details", False)
        if not isinstance(details, bool):
            raise QueryError(f"metrics[{i}].details: must be a boolean")
        out.append((name, details))
    return out


def _predicates(node: Any, path: str, enum: tuple[str, ...]) -> list[tuple[str, str]]:
    if node is None:
        return []
    if not isinstance(node, dict):
        raise QueryError(f"{path}: must be an object")
    out: list[tuple[str, str]] = []
    for i, p in enumerate(node.get("predicates") or []):
        where = f"{path}.predicates[{i}]"
        if not isinstance(p, dict) or p.get("dimension") not in enum:
            raise QueryError(f"{where}.dimension: one of the query's dimensions is required")
        if p.get("operator", "matches") != "matches" or not isinstance(p.get("value"), str):
            raise QueryError(f"{where}: only 'matches' with a string value is supported")
        if p["dimension"] not in ("queueId", "mediaType"):
            raise QueryError(f"{where}.dimension: the simulator filters on queueId and mediaType only")
        out.append((p["dimension"], p["value"]))
    for i, c in enumerate(node.get("clauses") or []):
        out.extend(_predicates(c, f"{path}.clauses[{i}]", enum))
    return out


def _order(body: dict[str, Any]) -> str:
    order = body.get("order", "asc")
    if order not in ACTIVITY_ORDERS:
        raise QueryError(f"order: one of {', '.join(ACTIVITY_ORDERS)}")
    return str(order)


def _selection(world: World, preds: Iterable[tuple[str, str]]) -> tuple[list[str], set[str] | None]:
    preds = list(preds)
    ids = [v for d, v in preds if d == "queueId"] or [q.queue_id for q in world.queues]
    media = {v for d, v in preds if d == "mediaType"} or None
    return [i for i in dict.fromkeys(ids) if i in world.queue_by_id], media


def _sorted(entities: list[wire.JSON], order: str) -> list[wire.JSON]:
    if order == "unordered":
        return entities
    return sorted(entities, key=lambda e: str(e["activityDate"]), reverse=order == "desc")


def conversations_activity_query(world: World, body: Any) -> wire.JSON:
    """``POST /api/v2/analytics/conversations/activity/query``. Raises ``QueryError``.

    Per group: ``oWaiting``/``oInteracting``/``oAlerting`` counts; ``oLongestWaiting`` and
    ``oLongestInteracting`` with ``count`` (waiting / interacting) and ``calculatedMetricValue`` =
    epoch ms at which the oldest of them began (absent when there is none). ``details: true`` adds
    the group's ``entities`` (one per interaction, ``activityDate`` = when its state began) and
    ``entityIds`` (conversation ids) on that metric.
    """
    if not isinstance(body, dict):
        raise QueryError("body: a JSON object is required")
    metrics = _metrics(body, CONVERSATION_ACTIVITY_METRICS)
    group_by = parse_group_by(body, CONVERSATION_ACTIVITY_DIMENSIONS, CONVERSATION_GROUPS)
    order = _order(body)
    if group_by is None:
        return {"results": []}  # grouped by a dimension the world does not model: no data
    preds = _predicates(body.get("filter"), "filter", CONVERSATION_ACTIVITY_DIMENSIONS)
    queue_ids, media_filter = _selection(world, preds)
    # every (queue, media) → its entities per metric family
    groups: dict[tuple[tuple[str, str], ...], dict[str, list[wire.JSON]]] = {}
    for qid in queue_ids:
        for m in world.queue_by_id[qid].media:
            if media_filter is not None and m not in media_filter:
                continue
            key = tuple((g, qid if g == "queueId" else m) for g in group_by)
            fam = groups.setdefault(key, {"oWaiting": [], "oInteracting": [], "oAlerting": []})
            base = {"queueId": qid, "mediaType": m, "direction": "inbound", "routingPriority": 0}
            for d in world.waiting_details(qid, m):
                fam["oWaiting"].append(
                    {"activityDate": d.offered_ms, "conversationId": d.conversation_id,
                     "sessionId": d.conversation_id, **base}
                )
            for h in world.held_details(qid, m):
                fam["oInteracting" if h.answered else "oAlerting"].append(
                    {"activityDate": h.since_ms, "conversationId": h.conversation_id,
                     "sessionId": h.conversation_id, "userId": h.user_id, **base}
                )
    results: list[wire.JSON] = []
    for key, fam in groups.items():
        data: list[wire.JSON] = []
        entities: list[wire.JSON] = []
        for name, details in metrics:
            members = fam[{"oLongestWaiting": "oWaiting", "oLongestInteracting": "oInteracting"}.get(name, name)]
            entry: wire.JSON = {"metric": name, "count": len(members)}
            if name.startswith("oLongest") and members:
                entry["calculatedMetricValue"] = min(int(e["activityDate"]) for e in members)
            if details:
                entry["entityIds"] = [e["conversationId"] for e in members]
                entities.extend({**e, "metric": name} for e in members)
            data.append(entry)
        result: wire.JSON = {"group": dict(key), "data": data, "truncated": False}
        if entities:
            result["entities"] = [
                {**e, "activityDate": wire.iso(int(e["activityDate"]))} for e in _sorted(entities, order)
            ]
        results.append(result)
    return {"results": results, "entityIdDimension": "conversationId"}


def _routing_entries(name: str, counts: dict[str, int]) -> list[wire.JSON]:
    if name == "oUserRoutingStatuses":
        return [{"metric": name, "qualifier": s, "count": n} for s, n in counts.items() if n]
    if name == "oOnQueueUsers":
        return [{"metric": name, "qualifier": s, "count": counts[s]} for s in _ON_QUEUE if counts[s]]
    if name == "oOffQueueUsers":
        return [{"metric": name, "qualifier": "OFF_QUEUE", "count": counts["OFF_QUEUE"]}] if counts["OFF_QUEUE"] else []
    if name == "oActiveUsers":
        return [{"metric": name, "count": sum(counts[s] for s in _ON_QUEUE)}]
    if name == "oMemberUsers":
        return [{"metric": name, "count": sum(counts.values())}]
    return []  # oUserPresences: the world has no presences (an empty answer, as for an org without any)


def routing_activity_query(world: World, body: Any) -> wire.JSON:
    """``POST /api/v2/analytics/routing/activity/query``. Raises ``QueryError``.

    ``groupBy`` must include ``queueId`` (reference §4). Per queue: ``oUserRoutingStatuses`` one
    entry per status as ``qualifier`` (zero omitted), ``oOnQueueUsers`` per on-queue status,
    ``oOffQueueUsers`` qualifier ``OFF_QUEUE``, ``oActiveUsers``/``oMemberUsers`` plain counts,
    ``oUserPresences`` nothing. ``details: true`` adds the members as ``entities`` and ``entityIds``.
    """
    if not isinstance(body, dict):
        raise QueryError("body: a JSON object is required")
    metrics = _metrics(body, ROUTING_ACTIVITY_METRICS)
    group_by = parse_group_by(body, ROUTING_ACTIVITY_DIMENSIONS, ROUTING_GROUPS)
    if "queueId" not in (group_by or body.get("groupBy") or []):
        raise QueryError("groupBy: must include queueId")
    if group_by is None:
        return {"results": []}  # grouped by a dimension the world does not model: no data
    _order(body)
    queue_ids, _ = _selection(world, _predicates(body.get("filter"), "filter", ROUTING_ACTIVITY_DIMENSIONS))
    observed = wire.iso(world.now_ms)
    results: list[wire.JSON] = []
    for qid in queue_ids:
        members = world.member_details(qid)
        counts = dict.fromkeys(ROUTING_STATUSES, 0)
        for mem in members:
            counts[mem.status] += 1
        data: list[wire.JSON] = []
        detailed = False
        for name, details in metrics:
            entries = _routing_entries(name, counts)
            if details:
                detailed = True
                for e in entries:
                    everyone = _ON_QUEUE if name == "oActiveUsers" else ROUTING_STATUSES
                    wanted = {e["qualifier"]} if "qualifier" in e else set(everyone)
                    e["entityIds"] = [mem.user_id for mem in members if mem.status in wanted]
            data.extend(entries)
        result: wire.JSON = {"group": {"queueId": qid}, "data": data, "truncated": False}
        if detailed:
            result["entities"] = [
                {"activityDate": observed, "userId": mem.user_id, "queueId": qid, "routingStatus": mem.status}
                for mem in members
            ]
        results.append(result)
    return {"results": results, "entityIdDimension": "userId"}
