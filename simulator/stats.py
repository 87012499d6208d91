"""Counters the simulator exposes at ``GET /sim/stats`` and fault settings set through ``/sim/faults``."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class Stats:
    """Monotonic counters (plus a few gauges filled in at read time)."""

    deliveries: int = 0
    """Event Bus / EventBridge POSTs answered 2xx."""
    delivery_attempts: int = 0
    redeliveries: int = 0
    duplicates: int = 0
    """Deliveries sent twice on purpose (fault injection)."""
    drops: int = 0
    """Deliveries given up after ``maxRetryAttempts``."""
    shed: int = 0
    """Deliveries or frames dropped because a bounded buffer was full."""
    envelopes: int = 0
    """Envelopes put on the Event Bus (each delivery carries one, or a batch)."""
    responses_401: int = 0
    responses_429: int = 0
    responses_5xx_injected: int = 0
    token_503s: int = 0
    tokens_issued: int = 0
    invalid_client: int = 0
    api_requests: int = 0
    notifications_sent: int = 0
    heartbeats_sent: int = 0
    sockets_opened: int = 0
    sockets_replaced: int = 0
    sockets_closed_slow: int = 0
    channels_created: int = 0
    channels_evicted: int = 0
    channels_expired: int = 0
    world_changes: int = 0
    reordered: int = 0
    """Deliveries swapped with the next one (fault injection)."""
    latency_spikes: int = 0
    """Deliveries or WebSocket messages held back by a latency spike (fault injection)."""
    callback_errors_injected: int = 0
    """Delivery attempts failed with a 5xx at the edge, never reaching the callback (fault injection)."""
    callback_timeouts_injected: int = 0
    """Delivery attempts whose answer was lost after the callback handled them (fault injection)."""
    hostile_sent: int = 0
    """Malformed or hostile deliveries and WebSocket frames sent (fault injection)."""
    rate_limit_storms: int = 0
    """``POST /sim/ratelimit/storm`` calls; the 429s they cause count in ``responses_429``."""
    tokens_revoked: int = 0
    tokens_expired_early: int = 0
    socket_closing_sent: int = 0
    sockets_silenced: int = 0
    frames_silenced: int = 0
    """Frames (messages, heartbeats, pongs) swallowed by a silent socket."""
    no_longer_subscribed_sent: int = 0
    channels_removed: int = 0
    """Channels removed by ``POST /sim/channels/unsubscribe`` with ``gone``."""
    oauth_outages: int = 0
    queues_created: int = 0
    queues_deleted: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Faults:
    """Fault injection, all off by default. Probabilities are in [0, 1]."""

    duplicate_probability: float = 0.0
    """A delivery is sent twice (same eventId, same body)."""
    reorder_probability: float = 0.0
    """A delivery is held back and sent after the next one."""
    latency_ms: float = 0.0
    """Added before every delivery and every WebSocket message."""
    platform_error_probability: float = 0.0
    """A Platform API call answers 503 instead of its result."""
    latency_spike_probability: float = 0.0
    """A delivery or WebSocket message is held back ``latency_spike_ms`` more (head of line: the ones
    behind it on the same subscription or socket wait too)."""
    latency_spike_ms: float = 2000.0
    """Length of one latency spike."""
    callback_error_probability: float = 0.0
    """An Event Bus delivery attempt fails with a 5xx at the edge (the callback never sees it); the
    delivery is redelivered as any failed one."""
    callback_timeout_probability: float = 0.0
    """An Event Bus delivery attempt reaches the callback, but its answer is lost (as when it comes
    after the delivery timeout); the delivery is redelivered, so the callback sees its eventId again."""
    hostile_probability: float = 0.0
    """Before a delivery or WebSocket message, a malformed or hostile one goes out (``hostile.py``)."""

    _WIRE = {
        "duplicateProbability": "duplicate_probability",
        "reorderProbability": "reorder_probability",
        "latencyMs": "latency_ms",
        "platformErrorProbability": "platform_error_probability",
        "latencySpikeProbability": "latency_spike_probability",
        "latencySpikeMs": "latency_spike_ms",
        "callbackErrorProbability": "callback_error_probability",
        "callbackTimeoutProbability": "callback_timeout_probability",
        "hostileProbability": "hostile_probability",
    }

    def update(self, body: dict[str, Any]) -> None:
        """Apply a ``PUT /sim/faults`` body. Raises ``ValueError`` naming the bad field."""
        for key, value in body.items():
            attr = self._WIRE.get(key)
            if attr is None:
                raise ValueError(f"unknown field {key!r}; expected one of {sorted(self._WIRE)}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key} must be a number")
            if attr.endswith("probability") and not 0 <= value <= 1:
                raise ValueError(f"{key} must be within [0, 1]")
            if value < 0:
                raise ValueError(f"{key} must be >= 0")
        for key, value in body.items():
            setattr(self, self._WIRE[key], float(value))

    def as_json(self) -> dict[str, float]:
        names = {f.name for f in fields(self)}
        return {wire: getattr(self, attr) for wire, attr in self._WIRE.items() if attr in names}

    def roll(self, rng: random.Random, probability: float) -> bool:
        return probability > 0 and rng.random() < probability

    def delay_s(self, rng: random.Random, stats: Stats) -> float:
        """Seconds to hold one delivery or message: ``latency_ms``, plus a spike now and then (counted)."""
        delay = self.latency_ms
        if self.roll(rng, self.latency_spike_probability):
            stats.latency_spikes += 1
            delay += self.latency_spike_ms
        return delay / 1000

    def clear(self) -> None:
        """Every fault off (the defaults)."""
        for f in fields(self):
            setattr(self, f.name, f.default)
