"""The leader lease: ``SET NX PX`` plus renewal, fenced by a counter.

One instance of a cluster holds ``<prefix>:lease`` (its owner string) at a time. With ``ttl`` =
``QC_LEASE_S``, the key lives ``0.75 × ttl`` and is renewed every ``ttl/4`` (one missed renewal is
absorbed). The leader **steps down on its own** once ``0.6 × ttl`` has passed since its last successful
renewal — before the key can expire in Redis — so that two instances never run the upstream at once even
when the leader is cut off from Redis (the platform allows 20 channels per client and evicts the
oldest). A follower tries to acquire every ``ttl/4``, so it takes over within ``ttl`` of the leader's
last renewal: within the lease. Each acquisition increments ``<prefix>:fence``: the fencing token.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.scripts import ACQUIRE, RELEASE, RENEW
from proxy.cluster.store import Keys, Redis, call, script
from proxy.errors import CrashLoop, StoreUnavailable

log = logging.getLogger("queuecast.cluster.lease")

#: The key's life and the leader's own deadline, as fractions of ``QC_LEASE_S`` (see the module docstring).
KEY_TTL = 0.75
STEP_DOWN = 0.6


class Deposed(Exception):  # a state, not a failure
    """Redis refused a fenced write: another instance holds the lease now."""


def _contains(exc: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(kind) is not None
    return isinstance(exc, kind)


#: What runs while leading: started with ``nursery.start``, cancelled when the lease is lost.
Leadership = Callable[..., Awaitable[Any]]


def new_owner() -> str:
    """A unique owner string for this process: host, pid and a random part (shown in /metrics)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    def __init__(self, redis: Redis, keys: Keys, *, ttl_s: float, metrics: ClusterMetrics,
                 owner: str | None = None, clock: Callable[[], float] = trio.current_time) -> None:
        self._redis = redis
        self._keys = keys
        self.ttl_s = ttl_s
        self.owner = owner or new_owner()
        self._metrics = metrics
        self._clock = clock
        self.token: int | None = None
        self.leading = False
        self.terms = 0
        self._resigned = trio.Event()

    def resign(self) -> None:
        """Stop contending (shutdown): a leader releases the lease at once, so a follower takes over while
        this instance still drains its clients."""
        self._resigned.set()

    @property
    def _ttl_ms(self) -> str:
        return str(int(self.ttl_s * KEY_TTL * 1000))

    async def acquire(self) -> bool:
        token = await script(self._redis, ACQUIRE, keys=[self._keys.lease, self._keys.fence],
                             args=[self.owner, self._ttl_ms])
        if token is None:
            holder = await call(self._redis.get(self._keys.lease))
            self._metrics.saw_holder(holder.decode() if holder is not None else None)
            return False
        self.token = int(token)
        self._metrics.fence.set(self.token)
        self._metrics.saw_holder(self.owner)
        return True

    async def renew(self) -> bool:
        return await script(self._redis, RENEW, keys=[self._keys.lease], args=[self.owner, self._ttl_ms]) is not None

    async def release(self) -> None:
        await script(self._redis, RELEASE, keys=[self._keys.lease], args=[self.owner])

    async def run(self, leadership: Leadership, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Contend for the lease until cancelled; while held, run ``leadership`` (cancelled at once when
        the lease is lost, not renewed in time, or when ``leadership`` itself returns or raises)."""
        period = self.ttl_s / 4
        task_status.started()
        while not self._resigned.is_set():
            try:
                won = await self.acquire()
            except StoreUnavailable:
                self._metrics.errors.labels("lease").inc()
                won = False
            if won:
                await self._lead(leadership, period)
            with trio.move_on_after(period):
                await self._resigned.wait()
        await trio.sleep_forever()

    async def _lead(self, leadership: Leadership, period: float) -> None:
        self.terms += 1
        self.leading = True
        self._metrics.leader.set(1)
        renewed = self._clock()
        end = "stopped"  # cancelled from outside: shutdown
        log.info("leading the cluster (fencing token %s)", self.token)
        try:
            async with trio.open_nursery() as nursery:
                async def lead() -> None:
                    nonlocal end
                    try:
                        await leadership()
                        end = "finished"
                    except Exception as exc:
                        if _contains(exc, CrashLoop):
                            raise
                        if _contains(exc, Deposed):
                            end = "lost"
                            log.warning("deposed: a fenced write was refused")
                        else:
                            end = "crashed"
                            log.exception("the leader's components failed: stepping down")
                    nursery.cancel_scope.cancel()

                nursery.start_soon(lead)
                while True:
                    deadline = renewed + STEP_DOWN * self.ttl_s
                    with trio.move_on_at(deadline):
                        with trio.move_on_after(period):
                            await self._resigned.wait()
                        if self._resigned.is_set():
                            break
                        try:
                            if not await self.renew():
                                end = "lost"
                                log.warning("the lease was taken over: stepping down")
                                break
                            renewed = self._clock()
                            continue
                        except StoreUnavailable:
                            self._metrics.errors.labels("lease").inc()
                            if self._clock() < deadline:
                                continue
                    end = "lost"
                    log.warning("lease not renewed for %.1f s: stepping down", STEP_DOWN * self.ttl_s)
                    break
                nursery.cancel_scope.cancel()
        finally:
            self.leading = False
            self._metrics.leader.set(0)
            self._metrics.terms.labels(end).inc()
            if end != "lost":  # still ours: hand it over now rather than after it expires
                with trio.move_on_after(1.0) as scope:
                    scope.shield = True
                    try:
                        await self.release()
                    except StoreUnavailable:
                        pass
