"""Notifications mode: discover the queues, split their topics into lanes, keep the lanes running.

Platform rules (reference §2): at most 1,000 topics per channel and 20 channels per app (the 21st
evicts the oldest idle one). One :class:`~proxy.upstream.lane.Lane` per ≤ 1,000 topics; each lane
reports its own health (the upstream status is the worst lane's, named). Channel operations live in
:mod:`~proxy.upstream.channels`, the socket in :mod:`~proxy.upstream.socket`, the frame translation
in :mod:`proxy.ingest.notification`.

``QC_TOPICS`` listing ``v2.analytics.queues.{id}.activity`` adds each queue's activity topic to its
lane (two topics per queue: a lane then holds at most 500 queues). Its frames carry no time: the ingest
pipeline stamps them as they are applied (``Ingestor.apply``, ``stamp_untimed``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import trio

from proxy.auth.backoff import Backoff
from proxy.errors import AuthError, UpstreamError
from proxy.upstream.backfill import backfill
from proxy.upstream.context import UpstreamContext
from proxy.upstream.lane import Lane, LaneStats
from proxy.upstream.platform import QueueDirectory
from proxy.upstream.status import reason_of

__all__ = ["Lane", "LaneStats", "NotificationsUpstream"]

log = logging.getLogger("queuecast.upstream.notifications")


def topics_per_queue(topics: Iterable[str]) -> int:
    """Channel topics each followed queue takes: 2 when ``QC_TOPICS`` lists an ``.activity`` topic."""
    return 2 if any(t.endswith(".activity") for t in topics) else 1


class NotificationsUpstream:
    """Discovers the queues, splits their topics into lanes and runs the lanes; aggregates their state.

    With ``QC_QUEUES`` empty (:attr:`UpstreamConfig.rediscovers`) the routing API is asked again every
    ``rediscover_s``: new queues join a lane with room (else a new lane), deleted ones leave their
    lane and the board (``ingestor.remove_queue``), renamed ones are backfilled under the new name.
    A failed re-discovery changes nothing and is retried at the next period.
    """

    def __init__(self, ctx: UpstreamContext) -> None:
        self._per_queue = topics_per_queue(ctx.config.settings.topics)
        self._ctx = ctx
        self.lanes: list[Lane] = []
        #: The followed queues and what the routing API says of them (shared with every lane).
        self.queue_ids: list[str] = []
        self.directory = QueueDirectory()
        self.rediscoveries = 0
        self._backoff = Backoff(initial_s=ctx.config.backoff_initial_s, max_s=ctx.config.backoff_max_s)
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        status = self._ctx.sinks.status
        status.report("discovery", "down", "connecting")
        while True:
            try:
                queue_ids, directory = await self._ctx.discover()
                break
            except AuthError as exc:
                if exc.fatal:
                    self._ctx.stop(exc)
                    return
                error: Exception = exc
            except UpstreamError as exc:
                error = exc
            delay = self._backoff.next()
            status.report("discovery", "down", reason_of(error), f"queue discovery failed: {error}")
            log.warning("queue discovery failed (%s); retrying in %.1f s", error, delay)
            await trio.sleep(delay)
        rediscovers = self._ctx.config.rediscovers
        if not queue_ids:
            status.report("discovery", "down", "no_queues", "no queues: set QC_QUEUES or grant routing:queue:view")
            log.error("no queues to follow%s", "; asking again later" if rediscovers else "")
            if not rediscovers:
                return
        self.queue_ids, self.directory = queue_ids, directory
        size = self._ctx.config.max_topics_per_channel // self._per_queue
        chunks = [queue_ids[i:i + size] for i in range(0, len(queue_ids), size)]
        log.info("following %d queue(s) on %d channel(s)", len(queue_ids), len(chunks))
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for chunk in chunks:
                await self._start_lane(chunk)
            status.forget("discovery")  # the lanes report from here on
            if rediscovers:
                nursery.start_soon(self._rediscover_loop)

    async def _start_lane(self, queue_ids: list[str]) -> Lane:
        assert self._nursery is not None
        lane = Lane(self._ctx, name=f"channel {len(self.lanes) + 1}", queue_ids=queue_ids, directory=self.directory)
        self.lanes.append(lane)
        await self._nursery.start(lane.run)
        return lane

    async def _rediscover_loop(self) -> None:
        period = self._ctx.config.rediscover_s
        while True:
            await trio.sleep(period)
            try:
                await self.rediscover()
            except AuthError as exc:
                if exc.fatal:
                    self._ctx.stop(exc)
                    return
                log.warning("queue re-discovery failed (%s); next try in %.0f s", exc, period)
            except UpstreamError as exc:
                log.warning("queue re-discovery failed (%s); next try in %.0f s", exc, period)

    async def rediscover(self) -> None:
        """List the queues once and apply the differences (see the class docstring). Raises
        :class:`~proxy.errors.UpstreamError` (or ``AuthError``) when the listing fails; nothing changes then."""
        ids, changes = await self._ctx.rediscover(self.queue_ids, self.directory)
        self.queue_ids = ids
        self.rediscoveries += 1
        if not changes:
            return
        log.info("queues changed: %d added, %d removed, %d renamed", len(changes.added), len(changes.removed),
                 len(changes.renamed))
        sink = self._ctx.sinks.observations
        for lane in self.lanes:
            lane.remove_queues(changes.removed)
        for qid in changes.removed:
            sink.remove_queue(qid)
        for qid in changes.added:
            sink.follow_queue(qid)
        size = self._ctx.config.max_topics_per_channel // self._per_queue
        pending = list(changes.added)
        for lane in self.lanes:
            room = size - len(lane.queue_ids)
            if pending and room > 0:
                lane.add_queues(pending[:room])
                pending = pending[room:]
        while pending:
            await self._start_lane(pending[:size])  # its first connect subscribes and backfills
            pending = pending[size:]
        if changes.renamed:  # names only reach the board with an observation: backfill those queues
            await backfill(self._ctx.platform, sink, changes.renamed, directory=self.directory)
