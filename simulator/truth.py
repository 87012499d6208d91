"""Ground truth: the QueueView (DESIGN 3.5) of every queue, computed from the world's own state.

This is independent of the proxy by construction (the simulator never imports it), and of the
message shape: both shapes are written from the same world. The world's state after a step is
exactly its last emitted observations, so these views equal what a correct consumer of every
emitted observation computes — in the real shape, once pending interval figures went out (pausing
sends them), with longest waiting from the observations query (the live messages do not carry it)
and the interval rolled over by the clock at each boundary.
"""

from __future__ import annotations

from .model import IntervalStats
from .wire import JSON, iso
from .world import World


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def queue_view(world: World, queue_id: str) -> JSON:
    """The QueueView of one queue. Raises ``KeyError`` for an unknown queue."""
    q = world.queue_by_id[queue_id]
    states = {m: world.media_state(queue_id, m) for m in q.media}
    longest = [s.longest_waiting_ms for s in states.values() if s.longest_waiting_ms is not None]
    newest = max(s.interval.start_ms for s in states.values())
    ivs: list[IntervalStats] = [s.interval for s in states.values() if s.interval.start_ms == newest]
    offered = sum(iv.offered for iv in ivs)
    answered = sum(iv.answered for iv in ivs)
    abandoned = sum(iv.abandoned for iv in ivs)
    answered_sum = sum(iv.answered_sum_ms for iv in ivs)
    handled = sum(iv.handled for iv in ivs)
    handled_sum = sum(iv.handled_sum_ms for iv in ivs)
    numerator = sum(iv.sl_numerator for iv in ivs)
    denominator = sum(iv.sl_denominator for iv in ivs)
    updated = world.last_observed_ms(queue_id)
    return {
        "queueId": q.queue_id,
        "name": q.name,
        "division": q.division.name,
        "waiting": sum(s.waiting for s in states.values()),
        "interacting": sum(s.interacting for s in states.values()),
        "alerting": sum(s.alerting for s in states.values()),
        "longestWaitingSince": iso(min(longest)) if longest else None,
        "media": {
            m: {
                "waiting": s.waiting,
                "interacting": s.interacting,
                "alerting": s.alerting,
                "longestWaitingSince": None if s.longest_waiting_ms is None else iso(s.longest_waiting_ms),
            }
            for m, s in states.items()
        },
        "agents": dict(world.agent_counts(queue_id)),
        "interval": {
            "start": iso(ivs[0].start_ms),
            "end": iso(ivs[0].end_ms),
            "offered": offered,
            "answered": answered,
            "abandoned": abandoned,
            "abandonRate": _ratio(abandoned, offered),
            "asaMs": _ratio(answered_sum, answered),
            "handled": handled,
            "ahtMs": _ratio(handled_sum, handled),
            "serviceLevel": _ratio(numerator, denominator),
            "serviceLevelNumerator": numerator,
            "serviceLevelDenominator": denominator,
            "serviceLevelTarget": q.sl_target,
        },
        "updatedAt": None if updated is None else iso(updated),
    }


def truth(world: World) -> JSON:
    """``GET /sim/truth``: ``{"asOf", "queues": {queueId: QueueView}}``."""
    return {"asOf": iso(world.now_ms), "queues": {q.queue_id: queue_view(world, q.queue_id) for q in world.queues}}
