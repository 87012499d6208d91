"""One frozen, typed settings object for the simulator, built once at the edge (the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEMO_CLIENT_ID = "queuecast-demo"
#: Demo-only credentials: the simulator is a fake platform, never put real secrets here.
DEMO_CLIENT_SECRET = "queuecast-demo-secret"
DEMO_CALLBACK_SECRET = "queuecast-demo-callback-secret"

MESSAGE_SHAPES: Final = ("real", "legacy")
ROUTING_STATUS_MODES: Final = ("whole", "changed")
AGENT_METRICS: Final = ("oUserRoutingStatuses", "oOnQueueUsers")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    """Everything the simulator can be told. Units are in the names; every default is documented.

    Time bases: ``speed`` scales the *world* (arrivals, handle times, intervals, waves) and the
    ``socket_closing`` grace. Token lifetimes, rate-limit windows, Event Bus retry intervals,
    heartbeats and channel expiry run on real time, because the proxy measures those in real time.
    """

    host: str = "127.0.0.1"
    """Interface to bind (default loopback)."""
    port: int = 0
    """TCP port; 0 picks a free one (default 0)."""
    seed: int = 1
    """Seed of the world's ``random.Random`` (queue ids, names, arrivals). Default 1."""
    speed: float = 1.0
    """Simulated seconds per real second (default 1.0)."""
    queues: int = 4
    """Number of queues (default 4)."""
    agents: int = 40
    """Number of agents, each a member of one or two queues (default 40)."""
    client_id: str = DEMO_CLIENT_ID
    """OAuth client id accepted by ``/oauth/token`` (default ``queuecast-demo``)."""
    client_secret: str = DEMO_CLIENT_SECRET
    """OAuth client secret (default ``queuecast-demo-secret``, demo only)."""
    token_ttl_s: int = 86400
    """Access-token lifetime in real seconds, reported as ``expires_in`` (default 86400)."""
    rate_limit_per_min: int = 300
    """Platform API requests per token per window (default 300)."""
    rate_limit_window_s: float = 60.0
    """Length of the fixed rate-limit window in real seconds (default 60)."""
    heartbeat_s: float = 30.0
    """WebSocket heartbeat interval in real seconds (default 30; UNCONFIRMED on the real platform)."""
    callback_secret: str = DEMO_CALLBACK_SECRET
    """Default HMAC secret for Event Bus deliveries (default ``queuecast-demo-callback-secret``)."""
    tick_s: float = 0.1
    """Real seconds between world steps (default 0.1)."""
    start_at_ms: int | None = None
    """Simulated epoch-ms at start; None = the wall clock at start (default None)."""
    arrivals_per_min: float = 20.0
    """Base arrival rate per queue (all media), before the day curve and waves (default 20)."""
    notify_min_interval_s: float = 1.0
    """Minimum real seconds between two Notification messages of one throttle key (default 1)."""
    notify_throttle_by: str = "topic"
    """``topic``: one message per topic per interval (default); ``group``: per topic and group."""
    socket_closing_grace_s: float = 60.0
    """Simulated seconds between ``v2.system.socket_closing`` and the close (default 60)."""
    channel_ttl_s: float = 86400.0
    """Real seconds a channel lives unless re-subscribed (default 86400)."""
    max_channels: int = 20
    """Channels per OAuth client; the next one evicts the oldest idle one (default 20)."""
    max_topics_per_channel: int = 1000
    """Topics per channel; more is a 400 (default 1000)."""
    channel_dies_with_token: bool = True
    """Close and remove a channel when its token expires or is revoked (default True; UNCONFIRMED)."""
    socket_queue_size: int = 1000
    """Frames buffered per WebSocket; a socket that fills it is disconnected (default 1000)."""
    delivery_queue_size: int = 10000
    """Deliveries buffered per Event Bus subscription; beyond it they are dropped (default 10000)."""
    retry_interval_s: float = 60.0
    """Event Bus: ``retryIntervalSeconds`` of a subscription that does not set it (default 60, the guide's)."""
    max_retry_attempts: int = 3
    """Event Bus: ``maxRetryAttempts`` of a subscription that does not set it (default 3, the guide's)."""
    delivery_timeout_s: float = 5.0
    """Real seconds one callback POST may take before it counts as failed (default 5)."""
    max_batch: int = 100
    """Envelopes per delivery in batch mode (default 100)."""
    token_status_on_invalid_client: int = 401
    """HTTP status of ``invalid_client`` at ``/oauth/token`` (default 401; UNCONFIRMED 400/401)."""
    message_shape: str = "real"
    """Observations-topic messages: ``real`` (instant messages with only the changed metrics,
    interval messages apart, no ``oLongestWaiting``; EventBridge ``detail-type`` is the topic
    template) or ``legacy`` (one whole-state body per (queue, mediaType)). Default ``legacy``."""
    routing_status_mode: str = "whole"
    """``real`` shape only: agent-count messages list every status, zero counts included (``whole``,
    default) or only the statuses whose count changed (``changed``)."""
    agent_metric: str = "oUserRoutingStatuses"
    """``real`` shape only: the metric carrying agent counts, ``oUserRoutingStatuses`` (default) or
    ``oOnQueueUsers`` (on-queue statuses as qualifiers; OFF_QUEUE as ``oOffQueueUsers``)."""
    interval_message_s: float = 5.0
    """``real`` shape only: simulated seconds between two interval messages of one (queue, mediaType)
    whose figures changed; changes in between go out together at the end of the wait, and the
    final figures of an ended interval go out at once (default 5)."""

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
        if self.queues < 1 or self.agents < 1:
            raise ValueError("queues and agents must be >= 1")
        if self.notify_throttle_by not in ("topic", "group"):
            raise ValueError("notify_throttle_by must be 'topic' or 'group'")
        if self.tick_s <= 0:
            raise ValueError("tick_s must be > 0")
        if self.message_shape not in MESSAGE_SHAPES:
            raise ValueError(f"message_shape must be one of {', '.join(MESSAGE_SHAPES)}")
        if self.routing_status_mode not in ROUTING_STATUS_MODES:
            raise ValueError(f"routing_status_mode must be one of {', '.join(ROUTING_STATUS_MODES)}")
        if self.agent_metric not in AGENT_METRICS:
            raise ValueError(f"agent_metric must be one of {', '.join(AGENT_METRICS)}")
        if self.interval_message_s < 0:
            raise ValueError("interval_message_s must be >= 0")
