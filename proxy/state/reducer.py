"""The reducer: observations in, per-queue records out; no I/O, no clock.

Rules (what real Genesys messages need; ``docs/real-tenant.md`` gives the evidence):

- **Instant values, per metric.** Each of ``waiting``, ``interacting``, ``alerting``, the longest
  wait and each agent routing status keeps the platform instant time of its value; a message's
  value for it applies when the message's ``observed_at`` is newer. An absent metric is unchanged
  (a real instant message carries only what changed). Platform times are only ever compared with
  platform times (never with the proxy's clock or an envelope's time).
- **Longest waiting** is cleared when the media's ``waiting`` becomes 0.
- **Interval figures** are keyed by interval start: a newer interval replaces an older one, an older
  one never overwrites a newer one, and within one interval each figure keeps the larger of stored
  and seen (counts only grow), so late and duplicated messages cannot lower it. :meth:`roll_over`
  moves every queue to a new interval with zero figures at the boundary (by the clock, the
  runtime's ``IntervalClock``); late messages for an older interval are ignored from then on.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime

from proxy.state.observation import ROUTING_STATUSES, IntervalObservation, QueueObservation, Unchanged
from proxy.state.view import IntervalFigures, MediaRecord, QueueRecord, QueueView, build_view

_INSTANT = ("waiting", "interacting", "alerting")


class Outcome(enum.Enum):
    APPLIED = "applied"
    STALE = "stale"


class Reducer:
    """Holds every queue's record and view; :meth:`apply` folds one observation in.

    Views are rebuilt lazily: :meth:`apply` marks the queue, :meth:`view` builds it once.
    """

    def __init__(self) -> None:
        self._records: dict[str, QueueRecord] = {}
        self._views: dict[str, QueueView] = {}

    def __contains__(self, queue_id: str) -> bool:
        return queue_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def queue_ids(self) -> list[str]:
        return list(self._records)

    def updated_at(self, queue_id: str) -> datetime | None:
        """The newest instant time applied for ``queue_id`` (None: unknown, or interval figures only)."""
        record = self._records.get(queue_id)
        return None if record is None else record.updated_at

    def apply(self, obs: QueueObservation) -> Outcome:
        """Fold ``obs`` in; ``STALE`` when nothing in it was newer than what is held."""
        record = self._records.get(obs.queue_id)
        if record is None:
            record = self._records[obs.queue_id] = QueueRecord(obs.queue_id)
        applied = False
        at = obs.observed_at
        if obs.media_type is not None:
            media = record.media.get(obs.media_type)
            if media is None:
                media = record.media[obs.media_type] = MediaRecord()
            if at is not None:
                applied |= _apply_instant(media, obs, at)
            if obs.interval is not None:
                applied |= _apply_interval(media, obs.interval)
        if obs.agents is not None and at is not None:
            applied |= _apply_agents(record, obs.agents, at, whole=obs.agents_whole)
        if obs.name is not None and obs.name != record.name:
            record.name = obs.name
            applied = True
        if obs.division is not None and obs.division != record.division:
            record.division = obs.division
            applied = True
        if not applied:
            return Outcome.STALE
        if at is not None and (record.updated_at is None or at > record.updated_at):
            record.updated_at = at
        self._views.pop(obs.queue_id, None)
        return Outcome.APPLIED

    def roll_over(self, start: datetime, end: datetime) -> list[str]:
        """The interval ``[start, end)`` began: figures of the interval that just ended (or still
        overlaps ``start``) restart at zero. Older intervals (a queue quiet since before the last
        boundary was rolled then) are left alone. Returns the queues whose view changed."""
        changed: list[str] = []
        for queue_id, record in self._records.items():
            rolled = False
            for media in record.media.values():
                old = media.interval
                if old is not None and old.start < start <= old.end:
                    media.interval = IntervalFigures(start, end, sl_target=old.sl_target)
                    rolled = True
            if rolled:
                self._views.pop(queue_id, None)
                changed.append(queue_id)
        return changed

    def remove(self, queue_id: str) -> bool:
        """Forget a queue that left the upstream's scope; true when it was known."""
        self._views.pop(queue_id, None)
        return self._records.pop(queue_id, None) is not None

    def view(self, queue_id: str) -> QueueView:
        view = self._views.get(queue_id)
        if view is None:
            view = self._views[queue_id] = build_view(self._records[queue_id])
        return view

    def waiting_queues(self) -> Iterable[str]:
        """Queues where someone waits but the longest wait is unknown (the upstream asks REST)."""
        for queue_id, record in self._records.items():
            if any(m.waiting > 0 and m.longest_waiting_since is None for m in record.media.values()):
                yield queue_id


def _newer(times: dict[str, datetime], key: str, at: datetime) -> bool:
    held = times.get(key)
    return held is None or at > held


def _apply_instant(media: MediaRecord, obs: QueueObservation, at: datetime) -> bool:
    applied = False
    times = media.times
    for name in _INSTANT:
        value = getattr(obs, name)
        if value is not None and _newer(times, name, at):
            setattr(media, name, value)
            times[name] = at
            applied = True
    longest = obs.longest_waiting_since
    if not isinstance(longest, Unchanged) and _newer(times, "longest", at):
        media.longest_waiting_since = longest
        media.longest_as_of = obs.longest_as_of  # None: live, as fresh as the message
        times["longest"] = at
        applied = True
    elif obs.waiting == 0 and times.get("waiting") == at and _newer(times, "longest", at):
        media.longest_waiting_since = None  # nobody waits: nobody waits longest
        media.longest_as_of = None
        times["longest"] = at
    return applied


def _apply_interval(media: MediaRecord, seen: IntervalObservation) -> bool:
    stored = media.interval
    if stored is not None and seen.start < stored.start:
        return False  # older than the interval held
    if stored is None or seen.start > stored.start:
        stored = IntervalFigures(seen.start, seen.end, sl_target=stored.sl_target if stored else None)
    merged = IntervalFigures(
        start=stored.start,
        end=max(stored.end, seen.end),
        offered=max(stored.offered, seen.offered or 0),
        answered=max(stored.answered, seen.answered or 0),
        answered_sum_ms=max(stored.answered_sum_ms, seen.answered_sum_ms or 0),
        abandoned=max(stored.abandoned, seen.abandoned or 0),
        handled=max(stored.handled, seen.handled or 0),
        handled_sum_ms=max(stored.handled_sum_ms, seen.handled_sum_ms or 0),
        sl_numerator=max(stored.sl_numerator, seen.sl_numerator or 0),
        sl_denominator=max(stored.sl_denominator, seen.sl_denominator or 0),
        sl_target=seen.sl_target if seen.sl_target is not None else stored.sl_target,
    )
    if merged == media.interval:
        return False
    media.interval = merged
    return True


def _apply_agents(record: QueueRecord, agents: Mapping[str, int], at: datetime, *, whole: bool) -> bool:
    applied = False
    for status in ROUTING_STATUSES:
        value = agents.get(status, 0 if whole else None)
        if value is not None and _newer(record.agent_times, status, at):
            record.agents[status] = value
            record.agent_times[status] = at
            applied = True
    return applied
