"""Bounded memory of recently seen event ids (redeliveries reuse their ``eventId``)."""

from __future__ import annotations

from collections import OrderedDict


class Deduper:
    """Remembers ids for ``horizon_s`` seconds, at most ``max_ids`` of them (oldest evicted first).

    Time is passed in (``now``, seconds on any monotonic clock) so the policy is testable without a clock.
    """

    def __init__(self, *, horizon_s: float, max_ids: int) -> None:
        self.horizon_s = horizon_s
        self.max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, event_id: str, now: float) -> bool:
        """True when ``event_id`` was seen within the horizon; otherwise remember it and return False."""
        self._expire(now)
        if event_id in self._seen:
            return True
        self._seen[event_id] = now
        if len(self._seen) > self.max_ids:
            self._seen.popitem(last=False)
            self.evicted += 1
        return False

    def _expire(self, now: float) -> None:
        limit = now - self.horizon_s
        seen = self._seen
        while seen:
            oldest_id, at = next(iter(seen.items()))
            if at > limit:
                break
            del seen[oldest_id]
