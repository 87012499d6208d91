"""The proxy's runtime: the one object that wires state, hub, ingest and upstream for an app.

Built by :func:`build_runtime` from :class:`~proxy.settings.Settings`. Its long-lived components
(aggregator, interval clock, status watchdog, keepalive ticker, upstream) run in :meth:`Runtime.serve` under the
:class:`~proxy.supervisor.Supervisor`'s restart policy; :meth:`Runtime.readiness` answers from
what is true now (components up, upstream not down, broker attached).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import trio

from proxy.auth.viewer import ViewerGate
from proxy.cluster.node import Cluster
from proxy.drain import Drain
from proxy.hub.broker import Broker
from proxy.hub.connect_rate import ConnectRate
from proxy.hub.memory_broker import MemoryBroker
from proxy.ingest.dedupe import Deduper
from proxy.ingest.pipeline import Ingestor
from proxy.ingest.signature import CallbackAuth
from proxy.ingest.topics import TopicFilter
from proxy.metrics import Metrics
from proxy.settings import Settings
from proxy.state.aggregator import Aggregator
from proxy.state.interval_clock import run_interval_clock
from proxy.state.reducer import Reducer
from proxy.supervisor import RestartPolicy, Supervisor
from proxy.upstream.context import UpstreamConfig
from proxy.upstream.runner import run_upstream
from proxy.upstream.sinks import Sinks
from proxy.upstream.status import StatusTracker


@dataclass(eq=False)
class Runtime:
    settings: Settings
    metrics: Metrics
    reducer: Reducer
    broker: Broker
    aggregator: Aggregator
    ingestor: Ingestor
    topics: TopicFilter
    auth: CallbackAuth
    status: StatusTracker
    supervisor: Supervisor
    #: Names of the components :meth:`serve` runs (for readiness).
    components: tuple[str, ...] = ()
    #: Viewer access control (``QC_VIEWER_JWT_SECRET``): open unless configured.
    viewers: ViewerGate = field(default_factory=lambda: ViewerGate(None))
    #: The Redis cluster this instance belongs to (``QC_REDIS_URL``); None: one process, in-memory broker.
    cluster: Cluster | None = None
    #: In-flight callbacks and the shutdown flags (:mod:`proxy.drain`).
    drain: Drain = field(default_factory=Drain)
    #: How fast new streams are admitted (``QC_CONNECT_RATE``); unlimited unless built from settings.
    connects: ConnectRate = field(default_factory=lambda: ConnectRate(0))

    @property
    def upstream_config(self) -> UpstreamConfig | None:
        """The upstream these settings ask for (None: push only, without platform credentials)."""
        s = self.settings
        if s.upstream == "callback" and not s.has_platform_credentials:
            return None
        return UpstreamConfig.from_settings(s)

    def sinks(self) -> Sinks:
        """What an upstream may touch: the ingest pipeline, the status tracker, two counters."""
        m = self.metrics
        return Sinks(observations=self.ingestor, status=self.status,
                     count_frame=lambda outcome: m.upstream_frames.labels(outcome).inc(),
                     count_capped=lambda header: m.capped_waits.labels(header).inc(),
                     count_request=m.platform_request,
                     count_event=lambda event: m.upstream_events.labels(event).inc())

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run every component under the supervisor until cancelled.

        Raises :class:`~proxy.errors.CrashLoop` when one keeps crashing (the process should stop).
        """
        run = self.supervisor.run
        if self.cluster is not None:  # the aggregator and the upstream run on the leader only (docs/scale-out.md)
            self.components = ("status-watchdog", "keepalive", "interval-clock", "cluster", "callback-intake")
            async with trio.open_nursery() as nursery:
                await nursery.start(run, "status-watchdog", self.status.watch)
                await nursery.start(run, "keepalive", self._keepalive_ticker)
                await nursery.start(run, "interval-clock", run_interval_clock, self.reducer, self.aggregator.mark,
                                    self.ingestor.platform_now)
                await nursery.start(run, "cluster", self.cluster.serve, self._lead)
                # every instance applies the accepted callbacks (and rolls intervals over), so whoever leads
                # next holds the state
                await nursery.start(run, "callback-intake", self.cluster.intake.consume, self.ingestor.ingest,
                                    self.topics, self.cluster.note_applied)
                task_status.started()
            return
        upstream = self.upstream_config
        self.components = ("aggregator", "status-watchdog", "keepalive", "interval-clock",
                           *(("upstream",) if upstream else ()))
        async with trio.open_nursery() as nursery:
            await nursery.start(run, "aggregator", self.aggregator.serve)
            await nursery.start(run, "interval-clock", run_interval_clock, self.reducer, self.aggregator.mark,
                                self.ingestor.platform_now)
            await nursery.start(run, "status-watchdog", self.status.watch)
            await nursery.start(run, "keepalive", self._keepalive_ticker)
            if upstream is not None:
                await nursery.start(run, "upstream", run_upstream, self.sinks(), upstream)
            task_status.started()

    async def _lead(self) -> None:
        """While this instance leads the cluster: the aggregator, which at once publishes what changed
        while this instance followed (callbacks and interval roll-overs every instance applies), and the
        upstream (which backfills first); cancelled when the lease is lost. What is left unpublished then is dropped:
        a later term starts from the cluster's state, not from this term's leftovers."""
        assert self.cluster is not None
        run = self.supervisor.run
        upstream = self.upstream_config
        if upstream is not None:  # the token is the cluster's: a new leader adopts its predecessor's
            upstream = dataclasses.replace(upstream, token_store=self.cluster.token_store)
        base = self.components
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(run, "aggregator", self.aggregator.serve)
                if upstream is not None:
                    await nursery.start(run, "upstream", run_upstream, self.sinks(), upstream)
                self.components = (*base, "aggregator", *(("upstream",) if upstream else ()))
                self.broker.set_status(self.status.body())
        finally:
            self.components = base
            self.aggregator.flush()  # no term any more: the broker drops it
            for source in self.status.sources():  # nor with the health of an upstream it no longer runs
                self.status.forget(source)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when every component runs (or finished cleanly), the broker is attached and — with
        a pulled upstream — the upstream is not ``down``. The body names what is not."""
        problems: list[str] = []
        states = {name: self.supervisor.state(name) for name in self.components}
        if not self.components:
            problems.append("starting")
        if self.drain.stopping:
            problems.append("shutting down")
        problems += [f"component {name} {state}" for name, state in states.items() if state in ("starting", "down")]
        if not self.broker.attached:
            problems.append("broker detached")
        if self.settings.upstream != "callback" and self.status.state == "down":
            problems.append(f"upstream down ({self.status.reason})")
        body = {"status": "not_ready" if problems else "ready", "problems": problems, "components": states,
                "upstream": self.status.state}
        return not problems, body

    async def _keepalive_ticker(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """One timer for every stream: a keepalive goes out after ``keepalive_s`` (+ at most a quarter) of silence."""
        idle_s = self.settings.keepalive_s
        period = min(idle_s / 4, 1.0)
        task_status.started()
        while True:
            await trio.sleep(period)
            self.broker.keepalive(trio.current_time(), idle_s)


def build_runtime(settings: Settings, *, policy: RestartPolicy | None = None) -> Runtime:
    metrics = Metrics()
    reducer = Reducer()
    cluster = Cluster(settings, metrics.registry) if settings.redis_url is not None else None
    broker: Broker = cluster.broker if cluster is not None else MemoryBroker(
        ring_size=settings.ring_size, ring_max_views=settings.ring_max_views)
    aggregator = Aggregator(reducer, broker.publish, window_s=settings.aggregate_s, metrics=metrics)
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
        viewers=ViewerGate(settings.viewer_jwt_secret),
        connects=ConnectRate(settings.connect_rate),
        auth=CallbackAuth(
            secret=settings.callback_secret,
            previous=settings.callback_secret_previous,
            api_key=settings.callback_api_key,
            api_key_header=settings.callback_api_key_header,
        ),
        status=status,
        cluster=cluster,
        supervisor=Supervisor(policy=policy or RestartPolicy(),
                              on_restart=lambda name: metrics.component_restarts.labels(name).inc()),
    )
