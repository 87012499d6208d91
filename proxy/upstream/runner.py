"""``run_upstream``: the proxy's upstream (``eventbus``, ``notifications``, or push-only seeding), until cancelled.

Owns the one long-lived platform ``httpx.AsyncClient`` (with :class:`PlatformAuth`), the token
manager and the mode's loops. Starts at once (the wallboard is served while the upstream is
down); the state is reported through ``runtime.status``. A fatal error (``invalid_client``) stops
the upstream with a clear message while the proxy keeps serving.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
import trio

from proxy.auth.backoff import Backoff
from proxy.auth.bearer import PlatformAuth
from proxy.auth.ratelimit import RateLimiter
from proxy.auth.token import TokenManager
from proxy.upstream.context import UpstreamConfig, UpstreamContext
from proxy.upstream.eventbus import EventBusUpstream
from proxy.upstream.notifications import NotificationsUpstream
from proxy.upstream.platform import Platform
from proxy.upstream.pushed import PushedUpstream

if TYPE_CHECKING:
    from proxy.runtime import Runtime

log = logging.getLogger("queuecast.upstream")


async def run_upstream(
    runtime: Runtime,
    *,
    config: UpstreamConfig | None = None,
    task_status: trio.TaskStatus[UpstreamContext] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the upstream described by ``config`` (default: from ``runtime.settings``) until cancelled.

    ``task_status.started(context)`` comes before any network I/O.
    """
    cfg = config or UpstreamConfig.from_settings(runtime.settings)
    timeout = httpx.Timeout(cfg.http_timeout_s, connect=min(10.0, cfg.http_timeout_s))
    async with httpx.AsyncClient(base_url=cfg.api_base, timeout=timeout,
                                 headers={"User-Agent": "queuecast-proxy"}) as http:
        tokens = TokenManager(http=http, token_url=cfg.login_base.rstrip("/") + "/oauth/token",
                              client_id=cfg.client_id, client_secret=cfg.client_secret,
                              grace_s=cfg.token_grace_s,
                              backoff=Backoff(initial_s=cfg.backoff_initial_s, max_s=cfg.backoff_max_s))
        http.auth = PlatformAuth(tokens, RateLimiter(per_window=cfg.rate_limit_per_min))
        with trio.CancelScope() as scope:
            ctx = UpstreamContext(runtime=runtime, config=cfg, platform=Platform(http), tokens=tokens,
                                  cancel_scope=scope)
            if cfg.mode != "backfill":  # push-only: the deliveries themselves say whether data is live
                runtime.status.set("down", f"{cfg.mode}: connecting to {cfg.api_base}")
            log.info("upstream %s via %s", cfg.mode, cfg.api_base)
            task_status.started(ctx)
            component: NotificationsUpstream | EventBusUpstream | PushedUpstream
            if cfg.mode == "notifications":
                component = NotificationsUpstream(ctx)
            elif cfg.mode == "eventbus":
                component = EventBusUpstream(ctx)
            else:
                component = PushedUpstream(ctx)
            ctx.component = component
            await component.run()
