"""The ingest pipeline after validation, without HTTP: dedupe, topic filter, staleness, removal."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from proxy.ingest.dedupe import Deduper
from proxy.ingest.envelope import InboundEvent
from proxy.ingest.pipeline import Ingestor
from proxy.metrics import Metrics
from proxy.state.observation import QueueObservation
from proxy.state.reducer import Reducer

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Marks:
    def __init__(self) -> None:
        self.marked: list[str] = []
        self.removed: list[str] = []

    def mark(self, queue_id: str, accepted_at: float) -> None:
        self.marked.append(queue_id)

    def mark_removed(self, queue_id: str) -> None:
        self.removed.append(queue_id)


def pipeline() -> tuple[Ingestor, Reducer, Marks, list[int]]:
    reducer, marks, events = Reducer(), Marks(), [0]

    def on_event() -> None:
        events[0] += 1

    ingestor = Ingestor(reducer=reducer, aggregator=marks, deduper=Deduper(horizon_s=60, max_ids=10),  # type: ignore[arg-type]
                        metrics=Metrics(), on_event=on_event, clock=lambda: 0.0)
    return ingestor, reducer, marks, events


def obs(queue_id: str, ms: int, waiting: int) -> QueueObservation:
    return QueueObservation(queue_id, "voice", T0 + timedelta(milliseconds=ms), waiting=waiting)


def event(event_id: str, observation: QueueObservation | None, *, allowed: bool = True) -> InboundEvent:
    return InboundEvent(event_id, "t", allowed, observation)


def test_every_outcome_is_counted_and_only_applied_queues_are_marked() -> None:
    ingestor, reducer, marks, events = pipeline()
    outcomes = ingestor.ingest([
        event("a", obs("q1", 10, 1)),
        event("a", obs("q1", 20, 2)),  # a redelivery: same id
        event("b", obs("q1", 5, 3)),  # older than what q1 holds
        event("c", obs("q2", 10, 4), allowed=False),
        event("d", None),
    ])
    assert outcomes == Counter(applied=1, duplicate=1, stale=1, ignored=1, unsupported=1)
    assert marks.marked == ["q1"] and reducer.view("q1").body["waiting"] == 1
    assert events == [1]


def test_observations_apply_without_dedupe_and_report_the_newest_time() -> None:
    ingestor, _, _, _ = pipeline()
    assert ingestor.newest_time("q1") is None
    assert ingestor.apply([obs("q1", 10, 1), obs("q1", 10, 1)]) == Counter(applied=1, stale=1)
    assert ingestor.newest_time("q1") == T0 + timedelta(milliseconds=10)


def test_a_removed_queue_stays_off_until_followed_again() -> None:
    ingestor, reducer, marks, _ = pipeline()
    ingestor.apply([obs("q1", 10, 1)])
    ingestor.remove_queue("q1")
    assert marks.removed == ["q1"] and "q1" not in reducer
    assert ingestor.apply([obs("q1", 20, 2)]) == Counter(removed=1)
    ingestor.follow_queue("q1")
    assert ingestor.apply([obs("q1", 30, 3)]) == Counter(applied=1)
