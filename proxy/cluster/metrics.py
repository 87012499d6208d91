"""The cluster's Prometheus figures, registered in the app's registry (``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ClusterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.lag = Gauge("queuecast_cluster_stream_lag_seconds",
                         "Age of the newest frame read from the Redis stream when it was read (this instance)",
                         registry=r)
        self.attached = Gauge("queuecast_cluster_attached", "1 while this instance reaches Redis", registry=r)
        self.leader = Gauge("queuecast_cluster_leader", "1 while this instance holds the leader lease", registry=r)
        self.holder = Gauge("queuecast_cluster_lease_holder", "The lease holder last seen (value 1, label holder)",
                            ["holder"], registry=r)
        self.fence = Gauge("queuecast_cluster_fencing_token", "The fencing token of this instance's newest term",
                           registry=r)
        self.leader_changes = Counter("queuecast_cluster_leader_changes",
                                      "Changes of lease holder seen by this instance", registry=r)
        self.terms = Counter("queuecast_cluster_terms", "Terms this instance led, by how they ended",
                             ["end"], registry=r)
        self.errors = Counter("queuecast_cluster_redis_errors", "Redis calls that failed, by operation",
                              ["op"], registry=r)
        self.resyncs = Counter("queuecast_cluster_resyncs",
                               "Snapshot reloads because the stream did not follow on (trimmed or lost)", registry=r)
        self.dropped = Counter("queuecast_cluster_frames_dropped", "Frames published outside a leader term",
                               registry=r)
        self.coalesced = Counter("queuecast_cluster_outbox_coalesced",
                                 "Times the leader's outbox was full and its frames were merged", registry=r)
        self.callbacks = Counter("queuecast_cluster_callback_events",
                                 "Callback events by cluster outcome (accepted, duplicate) and applied by the leader",
                                 ["outcome"], registry=r)
        self._holder: str | None = None

    def saw_holder(self, holder: str | None) -> None:
        if holder == self._holder:
            return
        if self._holder is not None:
            self.holder.remove(self._holder)
        if holder is not None:
            self.holder.labels(holder).set(1)
            if self._holder is not None:
                self.leader_changes.inc()
        self._holder = holder
