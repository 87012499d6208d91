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

    _WIRE = {
        "duplicateProbability": "duplicate_probability",
        "reorderProbability": "reorder_probability",
        "latencyMs": "latency_ms",
        "platformErrorProbability": "platform_error_probability",
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
