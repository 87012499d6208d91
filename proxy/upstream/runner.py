"""``run_upstream``: the proxy's upstream (``eventbus``, ``notifications``, or push-only seeding), until cancelled.

Owns the one long-lived platform ``httpx.AsyncClient`` (with :class:`PlatformAuth`), the token
manager and the mode's loops. Starts at once (the wallboard is served while the upstream is
down); health goes to the status sink. A fatal error (``invalid_client``) stops the upstream with a
clear message while the proxy keeps serving.
"""

from __future__ import annotations

import logging

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
from proxy.upstream.refresh import run_refresh
from proxy.upstream.sinks import Sinks
from proxy.upstream.status import PUSH

log = logging.getLogger("queuecast.upstream")


async def run_upstream(
    sinks: Sinks,
    config: UpstreamConfig,
    *,
    task_status: trio.TaskStatus[UpstreamContext] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the upstream described by ``config`` until cancelled, reporting into ``sinks``.

    ``task_status.started(context)`` comes before any network I/O.
    """
    cfg = config
    timeout = httpx.Timeout(cfg.http_timeout_s, connect=min(10.0, cfg.http_timeout_s))
    async with httpx.AsyncClient(base_url=cfg.api_base, timeout=timeout,
                                 headers={"User-Agent": "queuecast-proxy"}) as http:
        tokens = TokenManager(http=http, token_url=cfg.login_base.rstrip("/") + "/oauth/token",
                              client_id=cfg.client_id, client_secret=cfg.client_secret,
                              grace_s=cfg.settings.token_grace_s,
                              backoff=Backoff(initial_s=cfg.backoff_initial_s, max_s=cfg.backoff_max_s),
                              on_capped=sinks.count_capped, store=cfg.token_store,
                              on_refresh=lambda ok: sinks.count_event("token_refresh" if ok
                                                                      else "token_refresh_failed"))
        http.auth = PlatformAuth(tokens, RateLimiter(per_window=cfg.rate_limit_per_min,
                                                     on_capped=sinks.count_capped),
                                 on_retry=lambda status: sinks.count_event("token_refused" if status == 401
                                                                           else "rate_limited"))
        with trio.CancelScope() as scope:
            ctx = UpstreamContext(sinks=sinks, config=cfg, platform=Platform(http, on_request=sinks.count_request),
                                  tokens=tokens,
                                  cancel_scope=scope)
            if cfg.mode == "notifications":
                sinks.status.forget(PUSH)  # pulled: the lanes say whether data is live
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
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_refresh, ctx)
                await component.run()
                if ctx.fatal is not None:
                    nursery.cancel_scope.cancel()  # stopped for good: so is the refresh
