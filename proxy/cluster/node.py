"""One instance's membership of the cluster: the Redis client, the frame reader, the lease, and what
runs while this instance leads (the broker's writer plus the runtime's leader components)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from prometheus_client import CollectorRegistry

from proxy.cluster.intake import CallbackIntake
from proxy.cluster.lease import Lease, new_owner
from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.redis_broker import RedisBroker
from proxy.cluster.store import Keys, open_store, redact
from proxy.cluster.token_store import RedisTokenStore
from proxy.settings import Settings

log = logging.getLogger("queuecast.cluster")

#: The runtime's leader components: started while leading, cancelled when the lease is lost.
Leadership = Callable[[], Awaitable[Any]]


class Cluster:
    """Built with the runtime (sync); :meth:`serve` opens the client and joins the cluster."""

    def __init__(self, settings: Settings, registry: CollectorRegistry, *, owner: str | None = None) -> None:
        if settings.redis_url is None:
            raise ValueError("a cluster needs QC_REDIS_URL")
        self._url = settings.redis_url
        self._ttl_s = settings.lease_s
        self.keys = Keys(settings.redis_prefix)
        self.owner = owner or new_owner()
        self.metrics = ClusterMetrics(registry)
        self.broker = RedisBroker(None, self.keys, ring_size=settings.ring_size,
                                  ring_max_views=settings.ring_max_views, metrics=self.metrics)
        self.intake = CallbackIntake(self.keys, horizon_s=settings.dedupe_horizon_s, metrics=self.metrics)
        self.lease: Lease | None = None
        self.token_store: RedisTokenStore | None = None

    @property
    def leading(self) -> bool:
        return self.lease is not None and self.lease.leading

    async def serve(self, leadership: Leadership, *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read frames and contend for the lease until cancelled; ``leadership`` runs while leading."""
        log.info("joining the cluster at %s as %s", redact(self._url.reveal()), self.owner)
        async with open_store(self._url) as redis:
            self.broker.redis = redis
            self.intake.redis = redis
            self.token_store = RedisTokenStore(redis, self.keys)
            self.lease = lease = Lease(redis, self.keys, ttl_s=self._ttl_s, metrics=self.metrics, owner=self.owner)
            self.broker.on_close = lambda reason: lease.resign() if reason == "shutdown" else None
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.broker.serve)
                    await nursery.start(self.lease.run, functools.partial(self._lead, leadership))
                    task_status.started()
            finally:
                self.broker.redis = self.intake.redis = None

    def note_applied(self, callback_id: bytes) -> None:
        """This instance applied the callback stream up to ``callback_id`` (while leading, ``meta.cbid`` records
        it with the next frame written)."""
        self.broker.writer.callbacks_applied = callback_id

    async def _lead(self, leadership: Leadership) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.broker.writer.run, self.owner)
            await leadership()
            nursery.cancel_scope.cancel()
