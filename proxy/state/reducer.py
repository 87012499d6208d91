"""The reducer: observations in, per-queue records out; no I/O, no clock.

Rules (DESIGN 3.6): an observation not newer than the stored one for its (queue, media) is stale
and dropped whole; absent fields are unchanged; agent statuses belong to the queue and the newest
observation carrying them wins; interval figures are kept per media and summed in the view.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import datetime

from proxy.state.observation import ROUTING_STATUSES, IntervalObservation, QueueObservation, Unchanged
from proxy.state.view import IntervalFigures, MediaRecord, QueueRecord, QueueView, build_view


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
        """The newest observation time applied for ``queue_id`` (None: unknown queue)."""
        record = self._records.get(queue_id)
        return None if record is None else record.updated_at

    def apply(self, obs: QueueObservation) -> Outcome:
        record = self._records.get(obs.queue_id)
        if record is None:
            record = self._records[obs.queue_id] = QueueRecord(obs.queue_id)
        if obs.media_type is None:
            if record.queue_level_observed_at is not None and obs.observed_at <= record.queue_level_observed_at:
                return Outcome.STALE
            record.queue_level_observed_at = obs.observed_at
        else:
            media = record.media.get(obs.media_type)
            if media is not None and obs.observed_at <= media.observed_at:
                return Outcome.STALE
            if media is None:
                media = record.media[obs.media_type] = MediaRecord(obs.observed_at)
            _apply_media(media, obs)
        if obs.name is not None:
            record.name = obs.name
        if obs.agents is not None and (
            record.agents_observed_at is None or obs.observed_at > record.agents_observed_at
        ):
            record.agents = {status: obs.agents.get(status, 0) for status in ROUTING_STATUSES}
            record.agents_observed_at = obs.observed_at
        if record.updated_at is None or obs.observed_at > record.updated_at:
            record.updated_at = obs.observed_at
        self._views.pop(obs.queue_id, None)
        return Outcome.APPLIED

    def remove(self, queue_id: str) -> bool:
        """Forget a queue that left the upstream's scope; true when it was known."""
        self._views.pop(queue_id, None)
        return self._records.pop(queue_id, None) is not None

    def view(self, queue_id: str) -> QueueView:
        view = self._views.get(queue_id)
        if view is None:
            view = self._views[queue_id] = build_view(self._records[queue_id])
        return view


def _apply_media(media: MediaRecord, obs: QueueObservation) -> None:
    media.observed_at = obs.observed_at
    if obs.waiting is not None:
        media.waiting = obs.waiting
    if obs.interacting is not None:
        media.interacting = obs.interacting
    if obs.alerting is not None:
        media.alerting = obs.alerting
    if not isinstance(obs.longest_waiting_since, Unchanged):
        media.longest_waiting_since = obs.longest_waiting_since
    if obs.interval is not None:
        media.interval = _merge_interval(media.interval, obs.interval)


def _merge_interval(stored: IntervalFigures | None, seen: IntervalObservation) -> IntervalFigures:
    if stored is not None and seen.start < stored.start:
        return stored  # an older interval than the one we hold: it has dropped out of the sums
    base = stored if stored is not None and stored.start == seen.start else IntervalFigures(seen.start, seen.end)
    return replace(
        base,
        end=seen.end,
        offered=base.offered if seen.offered is None else seen.offered,
        answered=base.answered if seen.answered is None else seen.answered,
        answered_sum_ms=base.answered_sum_ms if seen.answered_sum_ms is None else seen.answered_sum_ms,
        abandoned=base.abandoned if seen.abandoned is None else seen.abandoned,
        handled=base.handled if seen.handled is None else seen.handled,
        handled_sum_ms=base.handled_sum_ms if seen.handled_sum_ms is None else seen.handled_sum_ms,
        sl_numerator=base.sl_numerator if seen.sl_numerator is None else seen.sl_numerator,
        sl_denominator=base.sl_denominator if seen.sl_denominator is None else seen.sl_denominator,
        sl_target=base.sl_target if seen.sl_target is None else seen.sl_target,
    )
