"""The chaos schedule (seeded, complete, windows apart), the board/truth differences and the metric
deltas the report is built from."""

from __future__ import annotations

import itertools

from queuecast.chaos import promtext
from queuecast.chaos.plan import BY_NAME, CATALOGUE, HOSTILE, schedule
from queuecast.chaos.run import comparable, differences


def test_the_schedule_is_a_function_of_the_seed() -> None:
    both = ("eventbus", "notifications")
    assert schedule(3, 180, both) == schedule(3, 180, both)
    assert schedule(3, 180, both) != schedule(4, 180, both)


def test_every_fault_strikes_about_once_a_minute_and_windows_end_in_time() -> None:
    plan = schedule(5, 180, ("eventbus", "notifications"))
    for fault in CATALOGUE:
        strikes = [s for s in plan if s.fault == fault.name]
        assert len(strikes) == 3, fault.name
        ends = [(s.at_s, s.at_s + s.duration_s) for s in strikes]
        assert all(b0 <= a1 for (_, b0), (a1, _) in itertools.pairwise(ends)), "one fault's windows overlap"
        assert all(end <= 0.9 * 180 + 1e-6 for _, end in ends)
    assert [s.fault for s in plan].count(HOSTILE.name) == 1
    assert plan == sorted(plan, key=lambda s: (s.at_s, s.fault))


def test_a_mode_gets_only_its_faults_at_the_same_times() -> None:
    both = schedule(9, 60, ("eventbus", "notifications"))
    pull = schedule(9, 60, ("notifications",))
    assert {s.fault for s in pull} == {s.fault for s in both} - {f.name for f in CATALOGUE if f.target == "eventbus"}
    assert [s for s in both if s.fault in {p.fault for p in pull}] == pull
    assert all(BY_NAME[s.fault].target != "notifications" for s in schedule(9, 60, ("eventbus",)))


def test_differences_name_the_queue_and_the_field() -> None:
    truth = comparable({"q1": {"waiting": 3, "updatedAt": "a"}, "q2": {"waiting": 0}})
    assert differences(comparable({"q1": {"waiting": 3, "updatedAt": "b"}, "q2": {"waiting": 0}}), truth) == []
    found = differences(comparable({"q1": {"waiting": 4}, "q3": {"waiting": 0}}), truth)
    assert found == ["queue q3 on the board, not in the truth", "queue q2 in the truth, not on the board",
                     "q1 waiting: board 4 truth 3"]


def test_metric_deltas_keep_what_moved() -> None:
    before = promtext.parse('# HELP x\nqueuecast_events_total{outcome="applied"} 5.0\n'
                            'queuecast_events_created{outcome="applied"} 1.7e9\nqueuecast_frames_total 2.0\n')
    after = promtext.parse('queuecast_events_total{outcome="applied"} 9.0\nqueuecast_frames_total 2.0\n'
                           'queuecast_events_total{outcome="duplicate"} 1.0\n')
    moved = promtext.deltas(before, after)
    assert moved == {'queuecast_events_total{outcome="applied"}': 4.0,
                     'queuecast_events_total{outcome="duplicate"}': 1.0}
    assert promtext.matching(moved, 'queuecast_events_total{outcome="duplicate"}') == {
        'queuecast_events_total{outcome="duplicate"}': 1.0}
