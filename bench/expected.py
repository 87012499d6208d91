"""What a correct proxy shows after a set of acknowledged messages, derived without the proxy's code.

:class:`ExpectedBoard` folds every message the proxy acknowledged (200) by the rules a proxy must
follow for real Genesys messages (``proxy/state/reducer.py`` states them; they are re-stated here, not
imported), and answers with the ``QueueView`` (DESIGN 3.5) of every queue:

- **Instant counts, per (queue, media) and per metric**: the value with the newest platform instant
  wins; a metric absent from a message is unchanged. ``longestWaitingSince`` stays null: the bench
  never sends ``oLongestWaiting`` (nor does the platform, as far as is confirmed), and the proxy in
  the bench has no REST upstream to ask.
- **Agent counts, per routing status**: the newest instant wins; a status absent is unchanged; never
  seen = 0.
- **Interval figures, per (queue, media)**: keyed by interval start; the newest interval replaces
  older ones, and within it each figure is the largest acknowledged (absent = 0), so the order in
  which concurrent callbacks were applied does not matter. At a 30-minute boundary the proxy's clock
  rolls a held interval over to the new one with zero figures (target kept): a view asked for at
  ``now_ms`` past the end of the newest interval shows that. The bench only ever sends the interval
  containing its send time, so every older interval was one the clock rolled.
- **The view**: counts summed over media (sorted by name), the interval summed over the media whose
  interval is the newest, ratios ``None`` on a zero denominator, ``name`` = the queue id (observation
  bodies carry no name), ``updatedAt`` = the newest instant of any instant or agent message.

Every rule is order-independent (newest wins, max within an interval), so the expected board of a
set of messages does not depend on the order the proxy applied them in — which the bench cannot
know when several connections post at once. One exception is kept out by construction: the
service-level target carries over into a new interval only in arrival order, so the bench sends
``oServiceLevel`` (target 0.8) in every interval message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.messages import INSTANT_METRICS, STATUSES, Agents, Figures, Instant, Interval, Message
from bench.timefmt import INTERVAL_MS, interval_start_ms, iso_ms

_SUMMED = ("offered", "answered", "answered_sum_ms", "abandoned", "handled", "handled_sum_ms", "sl_numerator",
           "sl_denominator")


@dataclass(slots=True)
class _Media:
    instant: dict[str, tuple[int, int]] = field(default_factory=dict)
    """metric → (instant ms, value)."""
    interval_start_ms: int | None = None
    figures: dict[str, int] = field(default_factory=dict)
    """Largest acknowledged figure of the newest interval, by :class:`Figures` field name."""
    sl_target: float | None = None


@dataclass(slots=True)
class _Queue:
    media: dict[str, _Media] = field(default_factory=dict)
    agents: dict[str, tuple[int, int]] = field(default_factory=dict)
    """status → (instant ms, count)."""
    updated_ms: int | None = None


def _newest(held: dict[str, tuple[int, int]], key: str, at_ms: int, value: int) -> None:
    current = held.get(key)
    if current is None or at_ms > current[0]:
        held[key] = (at_ms, value)


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


class ExpectedBoard:
    """The expected views of every queue a message was acknowledged for."""

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}

    def __contains__(self, queue_id: str) -> bool:
        return queue_id in self._queues

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def add_all(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.add(message)

    def add(self, message: Message) -> None:
        """Fold one acknowledged message in (any order, duplicates harmless)."""
        queue = self._queues.setdefault(message.queue_id, _Queue())
        if isinstance(message, Agents):
            for status, count in message.counts:
                _newest(queue.agents, status, message.at_ms, count)
            queue.updated_ms = max(queue.updated_ms or 0, message.at_ms)
            return
        media = queue.media.setdefault(message.media, _Media())
        if isinstance(message, Instant):
            for name in INSTANT_METRICS:
                value = getattr(message, name)
                if value is not None:
                    _newest(media.instant, name, message.at_ms, value)
            queue.updated_ms = max(queue.updated_ms or 0, message.at_ms)
            return
        _add_interval(media, message)

    def updated_ms(self, queue_id: str) -> int | None:
        """The newest instant acknowledged for ``queue_id`` (None: unknown, or interval figures only)."""
        queue = self._queues.get(queue_id)
        return None if queue is None else queue.updated_ms

    def counts(self, queue_id: str) -> tuple[int, int, int]:
        """(waiting, interacting, alerting) summed over the queue's media."""
        totals = [0, 0, 0]
        for media in self._queues[queue_id].media.values():
            for i, name in enumerate(INSTANT_METRICS):
                totals[i] += media.instant.get(name, (0, 0))[1]
        return totals[0], totals[1], totals[2]

    def views(self, *, now_ms: int) -> dict[str, dict[str, Any]]:
        """Every queue's expected view, as the proxy shows it at ``now_ms`` (interval rollover)."""
        return {queue_id: self.view(queue_id, now_ms=now_ms) for queue_id in self._queues}

    def view(self, queue_id: str, *, now_ms: int) -> dict[str, Any]:
        queue = self._queues[queue_id]
        media_views: dict[str, Any] = {}
        for name in sorted(queue.media):
            m = queue.media[name]
            media_views[name] = {**{k: m.instant.get(k, (0, 0))[1] for k in INSTANT_METRICS},
                                 "longestWaitingSince": None}
        waiting, interacting, alerting = self.counts(queue_id)
        return {
            "queueId": queue_id, "name": queue_id, "division": None,
            "waiting": waiting, "interacting": interacting, "alerting": alerting,
            "longestWaitingSince": None, "longestWaitingAsOf": None,
            "media": media_views,
            "agents": {status: queue.agents.get(status, (0, 0))[1] for status in STATUSES},
            "interval": _interval_view(queue, interval_start_ms(now_ms)),
            "updatedAt": None if queue.updated_ms is None else iso_ms(queue.updated_ms),
        }


def _add_interval(media: _Media, message: Interval) -> None:
    held = media.interval_start_ms
    if held is not None and message.start_ms < held:
        return  # older than the interval held: ignored
    if held is None or message.start_ms > held:
        media.interval_start_ms = message.start_ms
        media.figures = dict.fromkeys(_SUMMED, 0)
    seen: Figures = message.figures
    for key in _SUMMED:
        media.figures[key] = max(media.figures[key], getattr(seen, key))
    if seen.sl_denominator:  # oServiceLevel is on the wire, with its target
        media.sl_target = seen.sl_target


def _interval_view(queue: _Queue, now_start_ms: int) -> dict[str, Any] | None:
    held: list[tuple[int, dict[str, int], float | None]] = []
    for name in sorted(queue.media):
        m = queue.media[name]
        if m.interval_start_ms is None:
            continue
        if m.interval_start_ms < now_start_ms:  # the proxy's clock rolled it over: zero figures, target kept
            held.append((now_start_ms, dict.fromkeys(_SUMMED, 0), m.sl_target))
        else:
            held.append((m.interval_start_ms, m.figures, m.sl_target))
    if not held:
        return None
    newest = max(start for start, _, _ in held)
    current = [(figures, target) for start, figures, target in held if start == newest]
    total = {key: sum(figures[key] for figures, _ in current) for key in _SUMMED}
    return {
        "start": iso_ms(newest), "end": iso_ms(newest + INTERVAL_MS),
        "offered": total["offered"], "answered": total["answered"], "abandoned": total["abandoned"],
        "abandonRate": _ratio(total["abandoned"], total["offered"]),
        "asaMs": _ratio(total["answered_sum_ms"], total["answered"]),
        "handled": total["handled"], "ahtMs": _ratio(total["handled_sum_ms"], total["handled"]),
        "serviceLevel": _ratio(total["sl_numerator"], total["sl_denominator"]),
        "serviceLevelNumerator": total["sl_numerator"], "serviceLevelDenominator": total["sl_denominator"],
        "serviceLevelTarget": next((target for _, target in current if target is not None), None),
    }
