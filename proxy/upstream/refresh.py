"""The periodic REST refresh: what live messages may not carry, from the observations query.

Live observation messages may never carry ``oLongestWaiting`` and may list only the routing statuses
that changed (``docs/real-tenant.md``). So every ``QC_REFRESH_S`` the upstream asks the observations
query (counts, routing statuses as a whole set, ``detailMetrics: ["oWaiting"]`` for the oldest
waiting conversation) for every queue on the board, and applies the answer as a backfill: the
longest wait appears within one period, agent counts drift for at most one period.

Budget: one request per 100 queues per period, and the period stretches so the refresh never uses
more than ``refresh_budget_per_min`` requests a minute (default 100 — a third of the platform's 300
per token, leaving room for backfills, channel renewals and re-discovery). The rate actually used is
``queuecast_platform_requests_per_minute``.

Why the observations query and not the activity queries (``POST /api/v2/analytics/conversations/
activity/query``, ``.../routing/activity/query``): one observations query answers counts, the whole
routing-status set and the oldest waiting conversation (``observationDate``, documented, oldest
kept under truncation); the activity queries split them — conversation metrics only, agent metrics
only (the SDK's ``ConversationActivityQueryMetric`` / ``RoutingActivityQueryMetric`` enums) — so they
would cost two requests per 100 queues per period, are paged, need the same permission, and give the
longest wait as a ``calculatedMetricValue`` whose unit the SDK does not document. Evidence in
``docs/simulator.md`` ("Which query the proxy's REST refresh uses").
"""

from __future__ import annotations

import logging
import math

import trio

from proxy.errors import AuthError, UpstreamError
from proxy.upstream.backfill import QUERY_CHUNK, backfill
from proxy.upstream.context import UpstreamContext

log = logging.getLogger("queuecast.upstream.refresh")


def refresh_period_s(queues: int, *, every_s: float, budget_per_min: int) -> float:
    """Seconds between refreshes of ``queues`` queues: ``every_s``, stretched to stay within budget."""
    requests = math.ceil(queues / QUERY_CHUNK)
    return max(every_s, requests * 60.0 / max(1, budget_per_min))


async def run_refresh(ctx: UpstreamContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Refresh every queue on the board periodically until cancelled (failures wait for the next round)."""
    cfg, sink = ctx.config, ctx.sinks.observations
    task_status.started()
    if cfg.settings.refresh_s <= 0:
        return
    while True:
        ids = sink.known_queues()
        period = refresh_period_s(len(ids), every_s=cfg.settings.refresh_s, budget_per_min=cfg.refresh_budget_per_min)
        await trio.sleep(period)
        ids = sink.known_queues()
        if not ids:
            continue
        try:
            await backfill(ctx.platform, sink, ids, intervals=False)
        except AuthError as exc:
            if exc.fatal:
                ctx.stop(exc)
                return
            log.warning("refresh failed (%s); next round in %.0f s", exc, cfg.settings.refresh_s)
        except UpstreamError as exc:
            log.warning("refresh failed (%s); next round in %.0f s", exc, cfg.settings.refresh_s)
