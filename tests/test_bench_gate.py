"""The regression gate's pure logic: ratios from a run's results, and verdicts against a baseline; and the
expected board behind its exact-convergence figure, checked against the proxy's own reducer."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench import gate
from bench.callback import signed_body
from bench.messages import Message
from bench.timefmt import INTERVAL_MS, interval_start_ms
from bench.workload import Workload
from proxy.contract import DEFAULT_TOPICS
from proxy.ingest.envelope import parse_callback
from proxy.ingest.topics import TopicFilter
from proxy.state.reducer import Reducer

BASELINE = Path(__file__).resolve().parent.parent / "bench" / "baseline.json"


def results(*, iso_p50: float = 5.0, iso_p99: float = 10.0, single: float = 400.0, cpu: float = 2000.0,
            batched_cpu: float = 110.0, sustained_cpu: float = 600.0, converged: bool = True) -> dict[str, Any]:
    return {
        "echo": {"rtt_ms": {"p50": 0.5, "p99": 2.0},
                 "throughput": {"requests_per_s": 4000.0, "server_cpu_us_per_request": 125.0}},
        "isolated": {"latency_ms": {"p50": iso_p50, "p99": iso_p99}},
        "ingest": {"single": {"ceiling_per_s": single, "server_cpu_us_per_event": cpu},
                   "batched": {"ceiling_per_s": 5000.0, "server_cpu_us_per_event": batched_cpu}},
        "sustained": {"converged": converged, "proxy_cpu_us_per_event": sustained_cpu},
    }


def verdicts_for(current: dict[str, Any]) -> list[gate.Verdict]:
    baseline = {k: v for k, v in gate.ratios(results()).items() if not isinstance(v, bool)}
    return gate.compare(baseline, gate.ratios(current))


def failing(verdicts: list[gate.Verdict]) -> set[str]:
    return {v.metric.name for v in verdicts if not v.ok}


def test_ratios_divide_proxy_figures_by_the_echo_measured_in_the_same_run() -> None:
    r = gate.ratios(results())
    assert r["isolated_p50_over_echo_p50"] == 10.0
    assert r["isolated_p99_over_echo_p99"] == 5.0
    assert r["single_callbacks_over_echo"] == 0.1
    assert r["callback_cpu_over_echo_cpu"] == 16.0
    assert r["sustained_converged"] is True


def test_a_run_like_the_baseline_passes() -> None:
    assert gate.passed(verdicts_for(results()))


def test_noise_within_tolerance_passes() -> None:
    noisy = results(iso_p50=7.5, iso_p99=24.0, single=250.0, cpu=2800.0, batched_cpu=150.0, sustained_cpu=900.0)
    assert failing(verdicts_for(noisy)) == set()


def test_deliberate_latency_regression_fails_the_gate() -> None:
    slow = results(iso_p50=15.0)  # 3x the baseline median ratio
    verdicts = verdicts_for(slow)
    assert failing(verdicts) == {"isolated_p50_over_echo_p50"}
    assert not gate.passed(verdicts)
    assert "REGRESSION" in next(v for v in verdicts if not v.ok).line()


def test_throughput_and_cpu_regressions_fail_the_gate() -> None:
    assert failing(verdicts_for(results(single=150.0))) == {"single_callbacks_over_echo"}
    assert failing(verdicts_for(results(cpu=4000.0))) == {"callback_cpu_over_echo_cpu"}
    assert failing(verdicts_for(results(sustained_cpu=1200.0))) == {"sustained_cpu_per_event_over_echo_cpu"}


def test_a_slower_machine_slows_both_sides_and_passes() -> None:
    slower = results()
    slower2 = copy.deepcopy(slower)
    for section, key in (("rtt_ms", "p50"), ("rtt_ms", "p99")):
        slower2["echo"][section][key] *= 3
    slower2["isolated"]["latency_ms"] = {"p50": 15.0, "p99": 30.0}
    assert gate.passed(verdicts_for(slower2))


def test_lost_convergence_fails_whatever_the_baseline() -> None:
    assert failing(verdicts_for(results(converged=False))) == {"sustained_converged"}


def test_a_section_that_did_not_run_fails_and_a_missing_baseline_figure_is_skipped() -> None:
    current = results()
    del current["ingest"]
    names = failing(verdicts_for(current))
    assert {"single_callbacks_over_echo", "callback_cpu_over_echo_cpu"} <= names
    verdicts = gate.compare({}, gate.ratios(results()))
    assert gate.passed(verdicts)
    assert all("not compared" in v.note for v in verdicts if v.metric.direction != "true")


def test_the_committed_baseline_has_every_gated_ratio() -> None:
    baseline = json.loads(BASELINE.read_text())
    for metric in gate.METRICS:
        assert metric.name in baseline["ratios"], metric.name


def test_the_wallboard_figure_is_reported_but_never_gated() -> None:
    # absolute Chromium figures on a shared CPU, with no same-run yardstick, and absent without a browser
    with_board = {**results(), "wallboard": {"events_per_s": 10.0, "caught_up": False}}
    assert gate.ratios(with_board) == gate.ratios(results())
    assert not any("wallboard" in metric.name for metric in gate.METRICS)
    assert gate.passed(verdicts_for({**results(), "wallboard": {"skipped": "no Chromium"}}))


def test_a_skipped_wallboard_figure_says_why_in_the_report() -> None:
    from bench import report

    run = {"started": "2026-01-01T00:00:00+00:00", "command": "queuecast bench", "machine": "m", "wall_s": 1.0,
           "wallboard": {"skipped": "no Chromium at /usr/bin/chromium"}}
    assert "Skipped: no Chromium at /usr/bin/chromium." in report.markdown(run)


def _proxy_views(messages: list[Message], *, roll_to_ms: int | None = None) -> dict[str, Any]:
    """What the proxy's own parse and reducer make of ``messages``, in this order (optionally rolled
    over by the interval clock to the interval starting at ``roll_to_ms``)."""
    reducer, topics = Reducer(), TopicFilter(DEFAULT_TOPICS)
    for message in messages:
        raw, _ = signed_body(message.envelope(), "unused")
        for event in parse_callback(raw, topics):
            assert event.observation is not None
            reducer.apply(event.observation)
    if roll_to_ms is not None:
        start = datetime.fromtimestamp(roll_to_ms / 1000, UTC)
        reducer.roll_over(start, start + timedelta(minutes=30))
    return {q: json.loads(reducer.view(q).encoded) for q in reducer.queue_ids()}


@pytest.mark.parametrize("seed", range(8))
def test_the_expected_board_agrees_with_the_proxy_whatever_order_the_proxy_applied(seed: int) -> None:
    # concurrent callbacks are applied in an order the bench cannot know, some are never acknowledged,
    # and a redelivery applies one twice: the board must not depend on any of it
    workload = Workload(4, seed=seed, media=("voice", "chat"))
    rng = random.Random(seed)
    sent = [workload.next() for _ in range(300)]
    acked = [m for m in sent if rng.random() < 0.9]
    applied = acked + rng.sample(acked, 20)
    rng.shuffle(applied)
    workload.ack(rng.sample(acked, len(acked)))  # 200s are read in yet another order
    now = int(datetime.now(UTC).timestamp() * 1000)
    assert workload.expected.views(now_ms=now) == _proxy_views(applied)
    assert {type(m).__name__ for m in acked} == {"Instant", "Interval", "Agents"}


def test_the_expected_board_rolls_over_at_the_boundary_as_the_proxy_clock_does() -> None:
    workload = Workload(3, seed=1, media=("voice", "chat"))
    sent = [workload.next() for _ in range(200)]
    workload.ack(sent)
    boundary = interval_start_ms(max(m.at_ms for m in sent)) + INTERVAL_MS
    expected = workload.expected.views(now_ms=boundary + 1)
    assert expected == _proxy_views(sent, roll_to_ms=boundary)
    assert all(v["interval"]["offered"] == 0 and v["interval"]["serviceLevelTarget"] == 0.8
               for v in expected.values() if v["interval"] is not None)


def test_the_nchan_ratios_are_compared_only_where_nchan_ran() -> None:
    without = gate.compare({"peer_p99_over_nchan_p99": 2.0}, gate.ratios(results()))
    verdict = next(v for v in without if v.metric.name == "peer_p99_over_nchan_p99")
    assert verdict.ok and verdict.current is None
    row = {"subscribers": 1000, "ratios": {"p99": 6.0, "cpu_per_client_frame": 1.0}}
    worse = gate.compare({"peer_p99_over_nchan_p99": 2.0}, gate.ratios({**results(), "peer": {"rows": [row]}}))
    verdict = next(v for v in worse if v.metric.name == "peer_p99_over_nchan_p99")
    assert not verdict.ok and verdict.current == 6.0
