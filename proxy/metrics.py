"""Prometheus metrics, one registry per app (so several apps can live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "queuecast_events", "Inbound events by outcome (applied, duplicate, stale, ignored, unsupported, removed)",
            ["outcome"], registry=r,
        )
        self.callbacks = Counter("queuecast_callbacks", "Callback requests by HTTP status", ["status"], registry=r)
        self.frames = Counter("queuecast_frames", "Frames published to the hub", registry=r)
        self.clients = Gauge("queuecast_sse_clients", "Connected SSE clients", registry=r)
        self.sse_starts = Counter("queuecast_sse_starts", "SSE connections by start (snapshot, replay)", ["start"],
                                  registry=r)
        self.disconnects = Counter("queuecast_sse_disconnects", "SSE disconnects by reason", ["reason"], registry=r)
        self.shed = Counter("queuecast_sse_shed", "SSE connections refused with 503 (over QC_MAX_CLIENTS)", registry=r)
        self.dedupe_evicted = Counter("queuecast_dedupe_evicted", "Event ids evicted from dedupe memory at its cap",
                                      registry=r)
        self.latency = Histogram(
            "queuecast_ingest_to_publish_seconds", "From event accepted to frame published",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5),
            registry=r,
        )
        self.component_restarts = Counter(
            "queuecast_component_restarts", "Crashes of a supervised component, each followed by a restart",
            ["component"], registry=r,
        )
        self.upstream_frames = Counter(
            "queuecast_upstream_frames",
            "Notifications frames by outcome (applied, control, invalid, ignored, unfollowed)",
            ["outcome"], registry=r,
        )
        self.capped_waits = Counter(
            "queuecast_platform_wait_capped", "Retry-After / inin-ratelimit-reset values capped at 300 s", ["header"],
            registry=r,
        )
        outcomes = ("applied", "duplicate", "stale", "ignored", "unsupported", "removed")
        self._outcomes: dict[str, Counter] = {outcome: self.events.labels(outcome) for outcome in outcomes}

    def event_outcome(self, outcome: str) -> Counter:
        """The counter child for one outcome (resolved once: ``labels()`` is slow on a per-event path)."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self.events.labels(outcome)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)
