"""The chaos catalogue and its seeded schedule (pure: no I/O).

Every fault the simulator's control API can inject is one :class:`Fault`: what it aims at, how it is
switched on (and off, for a window), which simulator counters count it and which of the proxy's
metrics show what the proxy did about it. :func:`schedule` draws, from one ``random.Random(seed)``,
when each fault strikes during the run, so a failing seed replays the same plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["eventbus", "notifications"]
Target = Literal["eventbus", "notifications", "platform"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    name: str
    #: What it hits: Event Bus deliveries, Notifications sockets, or the platform (OAuth, REST) both use.
    target: Target
    what: str
    #: ``window``: a ``PUT /sim/faults`` body on, then the same fields at 0 (``duration_s`` drawn);
    #: ``instant``: one control call.
    kind: Literal["window", "instant"]
    faults: dict[str, float] = field(default_factory=dict)
    #: Simulator counters (``/sim/stats``) that count it.
    sim_counters: tuple[str, ...] = ()
    #: Proxy metric names (a prefix of ``name{labels}``) that show what the proxy did.
    proxy_metrics: tuple[str, ...] = ()


_EV = "queuecast_upstream_events_total"

CATALOGUE: tuple[Fault, ...] = (
    Fault(name="duplicate_deliveries", target="eventbus", kind="window", faults={"duplicateProbability": 0.3},
          what="a delivery is posted twice (same eventId)", sim_counters=("duplicates",),
          proxy_metrics=('queuecast_events_total{outcome="duplicate"}',)),
    Fault(name="reordered_deliveries", target="eventbus", kind="window", faults={"reorderProbability": 0.5},
          what="a delivery swaps places with the next one", sim_counters=("reordered",),
          proxy_metrics=('queuecast_events_total{outcome="stale"}', 'queuecast_events_total{outcome="applied"}')),
    Fault(name="latency_spikes", target="platform", kind="window",
          faults={"latencySpikeProbability": 0.05, "latencySpikeMs": 1500.0},
          what="a delivery or WebSocket message is held 1.5 s (head of line)", sim_counters=("latency_spikes",),
          proxy_metrics=("queuecast_ingest_to_publish_seconds_count",)),
    Fault(name="callback_5xx", target="eventbus", kind="window", faults={"callbackErrorProbability": 0.2},
          what="a delivery attempt fails with a 5xx before the callback; redelivered",
          sim_counters=("callback_errors_injected", "redeliveries", "drops"),
          proxy_metrics=('queuecast_callbacks_total{status="200"}',)),
    Fault(name="callback_timeouts", target="eventbus", kind="window", faults={"callbackTimeoutProbability": 0.2},
          what="the callback's answer is lost; the same delivery comes again",
          sim_counters=("callback_timeouts_injected", "redeliveries"),
          proxy_metrics=('queuecast_events_total{outcome="duplicate"}',)),
    Fault(name="platform_5xx", target="platform", kind="window", faults={"platformErrorProbability": 0.3},
          what="Platform API calls answer 503", sim_counters=("responses_5xx_injected",),
          proxy_metrics=("queuecast_platform_requests_total",)),
    Fault(name="rate_limit_storm", target="platform", kind="instant",
          what="every Platform API call answers 429 with Retry-After for 2–5 s",
          sim_counters=("rate_limit_storms", "responses_429"),
          proxy_metrics=(f'{_EV}{{event="rate_limited"}}', "queuecast_platform_wait_capped_total")),
    Fault(name="oauth_outage", target="platform", kind="instant",
          what="the token endpoint answers 503 for 2–4 s, and every token expires as it goes down",
          sim_counters=("oauth_outages", "token_503s"),
          proxy_metrics=(f'{_EV}{{event="token_refresh_failed"}}', f'{_EV}{{event="token_refresh"}}')),
    Fault(name="token_revoked", target="platform", kind="instant",
          what="every live token is revoked (sockets get token_revoked; channels die with it)",
          sim_counters=("tokens_revoked", "responses_401"),
          proxy_metrics=(f'{_EV}{{event="token_refused"}}', f'{_EV}{{event="handover"}}',
                         f'{_EV}{{event="token_refresh"}}')),
    Fault(name="token_expired_early", target="platform", kind="instant",
          what="every live token expires now, long before expires_in",
          sim_counters=("tokens_expired_early", "responses_401"),
          proxy_metrics=(f'{_EV}{{event="token_refused"}}', f'{_EV}{{event="token_refresh"}}',
                         f'{_EV}{{event="reconnect"}}')),
    Fault(name="socket_closing", target="notifications", kind="instant",
          what="v2.system.socket_closing, the socket closes 2 s later", sim_counters=("socket_closing_sent",),
          proxy_metrics=(f'{_EV}{{event="socket_replaced"}}',)),
    Fault(name="silent_socket", target="notifications", kind="instant",
          what="sockets stay open and send nothing (no heartbeat, no pong, no message)",
          sim_counters=("sockets_silenced", "frames_silenced"),
          proxy_metrics=(f'{_EV}{{event="heartbeat_timeout"}}', f'{_EV}{{event="reconnect"}}')),
    Fault(name="no_longer_subscribed", target="notifications", kind="instant",
          what="v2.system.no_longer_subscribed; the channel loses its topics",
          sim_counters=("no_longer_subscribed_sent",), proxy_metrics=(f'{_EV}{{event="resubscribed"}}',)),
    Fault(name="channel_gone", target="notifications", kind="instant",
          what="no_longer_subscribed, then the channel is deleted (HEAD 404, socket closed)",
          sim_counters=("channels_removed",), proxy_metrics=(f'{_EV}{{event="reconnect"}}',)),
    Fault(name="queue_deleted", target="platform", kind="instant",
          what="a queue is deleted (routing API, analytics, truth, topics)", sim_counters=("queues_deleted",),
          proxy_metrics=('queuecast_platform_requests_total{call="GET routing/queues"}',
                         'queuecast_events_total{outcome="removed"}')),
    Fault(name="queue_created", target="platform", kind="instant", what="a new queue appears",
          sim_counters=("queues_created",), proxy_metrics=(f'{_EV}{{event="backfill"}}',
                                                           'queuecast_platform_requests_total{call="POST events/')),
)

#: Malformed and hostile frames and deliveries, at this probability for the whole fault phase.
HOSTILE = Fault(name="hostile_frames", target="platform", kind="window", faults={"hostileProbability": 0.01},
                what="1 % of deliveries and WebSocket messages are preceded by a malformed or hostile one",
                sim_counters=("hostile_sent",),
                proxy_metrics=('queuecast_callbacks_total{status="400"}', 'queuecast_callbacks_total{status="413"}',
                               'queuecast_upstream_frames_total{outcome="invalid"}'))

BY_NAME: dict[str, Fault] = {f.name: f for f in (*CATALOGUE, HOSTILE)}


@dataclass(frozen=True, slots=True)
class Strike:
    """One fault at ``at_s`` seconds into the fault phase; a window lasts ``duration_s``."""

    at_s: float
    fault: str
    duration_s: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


def applies(fault: Fault, modes: tuple[Mode, ...]) -> bool:
    return fault.target == "platform" or fault.target in modes


def schedule(seed: int, duration_s: float, modes: tuple[Mode, ...]) -> list[Strike]:
    """Every fault of the catalogue that applies to ``modes``, at least once, about once a minute each,
    at seeded times within the first 90 % of ``duration_s`` (windows end by then too), in time order.
    The hostile frames run for the whole phase."""
    rng = random.Random(seed)
    last = 0.9 * duration_s
    strikes = [Strike(0.0, HOSTILE.name, duration_s)]
    for fault in CATALOGUE:  # drawn for every fault, kept for those of ``modes``: the times do not
        times = max(1, round(duration_s / 60))  # depend on the mode
        slot = last / times
        for i in range(times):  # one strike per slot: windows of one fault never overlap
            length = rng.uniform(2.0, min(6.0, 0.8 * slot)) if fault.kind == "window" else 0.0
            at = i * slot + rng.uniform(0.05 * slot, max(0.05 * slot, slot - length))
            strike = Strike(round(at, 2), fault.name, round(length, 2), _params(fault, rng))
            if applies(fault, modes):
                strikes.append(strike)
    return sorted(strikes, key=lambda s: (s.at_s, s.fault))


def _params(fault: Fault, rng: random.Random) -> dict[str, Any]:
    if fault.name == "rate_limit_storm":
        return {"seconds": round(rng.uniform(2.0, 5.0), 1)}
    if fault.name == "oauth_outage":
        return {"seconds": round(rng.uniform(2.0, 4.0), 1)}
    if fault.name in ("queue_deleted", "queue_created"):
        return {"pick": rng.random()}
    return {}
