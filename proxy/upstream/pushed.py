"""Push-only mode with platform credentials: seed the board, keep the queue list, receive by push.

With ``QC_UPSTREAM=callback`` the deliveries arrive on the callback (an EventBridge API destination,
or a webhook) and the platform replays nothing, so a freshly started proxy would show only the
queues that happened to change since. When platform credentials are configured too (``QC_REGION``
or ``QC_API_BASE``/``QC_LOGIN_BASE``, ``QC_CLIENT_ID``, ``QC_CLIENT_SECRET``), this component seeds
the board once over REST (the same backfill as the pull modes, retried with backoff until it
works) and, when ``QC_QUEUES`` is empty, re-lists the queues periodically: new ones are backfilled,
deleted ones leave the board through ``removed``. It never opens a channel or a subscription, and
it leaves the upstream status to the deliveries (``live`` while they arrive).
"""

from __future__ import annotations

import logging

import trio

from proxy.auth.backoff import Backoff
from proxy.errors import AuthError, UpstreamError
from proxy.upstream.backfill import backfill
from proxy.upstream.context import UpstreamContext
from proxy.upstream.platform import QueueDirectory

log = logging.getLogger("queuecast.upstream.pushed")


class PushedUpstream:
    def __init__(self, ctx: UpstreamContext) -> None:
        self._ctx = ctx
        cfg = ctx.config
        self._backoff = Backoff(initial_s=cfg.backoff_initial_s, max_s=cfg.backoff_max_s)
        self.backfills = 0
        self.queue_ids: list[str] = []

    async def run(self) -> None:
        ctx, cfg, sink = self._ctx, self._ctx.config, self._ctx.sinks.observations
        directory = QueueDirectory()
        seeded = False
        while True:
            try:
                if not seeded:
                    self.queue_ids, directory = await ctx.discover()
                    await backfill(ctx.platform, sink, self.queue_ids, directory=directory)
                    self.backfills += 1
                    seeded = True
                    log.info("board seeded with %d queue(s); deliveries arrive by push", len(self.queue_ids))
                else:
                    self.queue_ids, changes = await ctx.rediscover(self.queue_ids, directory)
                    for queue_id in changes.added:
                        sink.follow_queue(queue_id)
                    if changes.added or changes.renamed:
                        await backfill(ctx.platform, sink, [*changes.added, *changes.renamed], directory=directory)
                        self.backfills += 1
                    for queue_id in changes.removed:
                        sink.remove_queue(queue_id)
                self._backoff.reset()
                if not cfg.rediscovers:
                    return
                delay = cfg.rediscover_s
            except AuthError as exc:
                if exc.fatal:
                    ctx.stop(exc)
                    return
                delay = self._failed(exc)
            except UpstreamError as exc:
                delay = self._failed(exc)
            await trio.sleep(delay)

    def _failed(self, exc: Exception) -> float:
        delay = self._backoff.next()
        log.warning("seeding the board over REST failed (%s); retrying in %.1f s", exc, delay)
        return delay
