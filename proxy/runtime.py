"""The proxy's runtime: the one object that owns state, hub and ingest for an app.

Built by :func:`build_runtime` from :class:`~proxy.settings.Settings`; its long-lived loops run
in :meth:`Runtime.serve`, which the app starts in its lifespan nursery.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from proxy.hub.memory_broker import MemoryBroker
from proxy.ingest.dedupe import Deduper
from proxy.ingest.pipeline import Ingestor
from proxy.ingest.signature import CallbackAuth
from proxy.ingest.topics import TopicFilter
from proxy.metrics import Metrics
from proxy.settings import Settings
from proxy.state.aggregator import Aggregator
from proxy.state.reducer import Reducer
from proxy.upstream.status import StatusTracker


@dataclass(eq=False)
class Runtime:
    settings: Settings
    metrics: Metrics
    reducer: Reducer
    broker: MemoryBroker
    aggregator: Aggregator
    ingestor: Ingestor
    topics: TopicFilter
    auth: CallbackAuth
    status: StatusTracker
    ready: bool = False

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the aggregator and the status watchdog (and, later, the upstream) until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.aggregator.serve)
            await nursery.start(self.status.watch)
            nursery.start_soon(self._keepalive_ticker)
            if self.settings.upstream != "callback" or self.settings.has_platform_credentials:
                from proxy.upstream.runner import run_upstream  # only with an upstream

                await nursery.start(run_upstream, self)
            self.ready = True
            task_status.started()


    async def _keepalive_ticker(self) -> None:
        """One timer for every stream: a keepalive goes out after ``keepalive_s`` (+ at most a quarter) of silence."""
        idle_s = self.settings.keepalive_s
        period = min(idle_s / 4, 1.0)
        while True:
            await trio.sleep(period)
            self.broker.keepalive(trio.current_time(), idle_s)


def build_runtime(settings: Settings) -> Runtime:
    metrics = Metrics()
    reducer = Reducer()
    broker = MemoryBroker(ring_size=settings.ring_size, ring_max_views=settings.ring_max_views)
    aggregator = Aggregator(reducer, broker, window_s=settings.aggregate_s, metrics=metrics)
    status = StatusTracker(stale_after_s=settings.stale_after_s, publish=broker.set_status)
    ingestor = Ingestor(
        reducer=reducer,
        aggregator=aggregator,
        deduper=Deduper(horizon_s=settings.dedupe_horizon_s, max_ids=settings.dedupe_max_ids),
        metrics=metrics,
        on_event=status.note_event,
    )
    return Runtime(
        settings=settings,
        metrics=metrics,
        reducer=reducer,
        broker=broker,
        aggregator=aggregator,
        ingestor=ingestor,
        topics=TopicFilter(settings.topics),
        auth=CallbackAuth(
            secret=settings.callback_secret,
            api_key=settings.callback_api_key,
            api_key_header=settings.callback_api_key_header,
        ),
        status=status,
    )
