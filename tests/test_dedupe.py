from proxy.ingest.dedupe import Deduper


def test_redelivery_within_horizon_is_a_duplicate():
    d = Deduper(horizon_s=10, max_ids=100)
    assert not d.seen("a", 0.0)
    assert d.seen("a", 9.9)


def test_ids_expire_after_the_horizon():
    d = Deduper(horizon_s=10, max_ids=100)
    d.seen("a", 0.0)
    assert not d.seen("a", 10.5)
    assert len(d) == 1


def test_memory_is_bounded_and_the_oldest_ids_go_first():
    d = Deduper(horizon_s=1000, max_ids=3)
    for i, event_id in enumerate("abcd"):
        d.seen(event_id, float(i))
    assert len(d) == 3 and d.evicted == 1
    assert not d.seen("a", 5.0)  # evicted: counted as new
    assert d.seen("d", 5.0)
