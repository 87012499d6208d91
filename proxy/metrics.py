"""Prometheus metrics, one registry per app (so several apps can live in one test process)."""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RecentCount:
    """How many things happened in the last ``window_s`` seconds (monotonic clock); bounded by the rate."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def record(self) -> None:
        self._times.append(time.monotonic())

    def count(self) -> int:
        limit = time.monotonic() - self.window_s
        while self._times and self._times[0] <= limit:
            self._times.popleft()
        return len(self._times)


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
        self.upstream_events = Counter(
            "queuecast_upstream_events",
            "What the upstream did about its platform: token_refresh, token_refresh_failed, token_refused (401, "
            "retried with a new token), rate_limited (429, waited out), reconnect, heartbeat_timeout, "
            "socket_replaced (socket_closing), handover, resubscribed (no_longer_subscribed), backfill",
            ["event"], registry=r,
        )
        self.capped_waits = Counter(
            "queuecast_platform_wait_capped", "Retry-After / inin-ratelimit-reset values capped at 300 s", ["header"],
            registry=r,
        )
        self.observed_fields = Counter(
            "queuecast_observed_fields", "What live observation messages carried (oWaiting, oLongestWaiting, interval, "
            "routing_statuses_all / _some, ...)", ["field"], registry=r,
        )
        self._fields: dict[str, Counter] = {}
        self.platform_requests = Counter(
            "queuecast_platform_requests", "Platform API requests by call", ["call"], registry=r,
        )
        self.platform_recent = RecentCount()
        rpm = Gauge("queuecast_platform_requests_per_minute",
                    "Platform API requests in the last 60 s (the allowance is 300 per token)", registry=r)
        rpm.set_function(self.platform_recent.count)
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

    def platform_request(self, call: str) -> None:
        self.platform_requests.labels(call).inc()
        self.platform_recent.record()

    def observed_field(self, field: str) -> None:
        child = self._fields.get(field)
        if child is None:
            child = self._fields[field] = self.observed_fields.labels(field)
        child.inc()
