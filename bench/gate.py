"""The regression gate: same-run ratios compared with ``bench/baseline.json``, pure logic.

Absolute times on a shared 2-core CI box swing by 2x between runs, so the gate never compares
them. It compares *ratios of figures measured in the same run by the same harness*: the proxy's
isolated-event latency over a bare echo server's round trip, the proxy's callbacks/s over the
echo's requests/s, the proxy's CPU per callback over the echo's CPU per request. A slower machine
slows both sides; a regression in the proxy moves the ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["lower", "higher", "true"]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    direction: Direction
    tolerance: float
    """Allowed relative change in the bad direction (0.5 = 50 % worse than the baseline)."""
    why: str
    optional: bool = False
    """Passes when not measured: it needs something the machine may lack (nginx for the nchan ratios)."""


#: What the gate compares, in which direction, with which tolerance, and why that tolerance.
METRICS: tuple[Metric, ...] = (
    Metric("isolated_p50_over_echo_p50", "lower", 0.6,
           "median isolated latency relative to a bare HTTP round trip; medians are stable, 60 % slack"),
    Metric("isolated_p99_over_echo_p99", "lower", 1.5,
           "tail latency relative to the echo's tail; tails are noisy on shared CI, so 2.5x slack"),
    Metric("single_callbacks_over_echo", "higher", 0.5,
           "single-event callbacks/s (p99 < 50 ms) over echo requests/s; wall-clock rates swing, 50 % slack"),
    Metric("callback_cpu_over_echo_cpu", "lower", 0.5,
           "proxy CPU per single-event callback over echo CPU per request (CPU time is less noisy than wall)"),
    Metric("batched_cpu_per_event_over_echo_cpu", "lower", 0.5,
           "proxy CPU per event in batched callbacks over echo CPU per request"),
    Metric("sustained_cpu_per_event_over_echo_cpu", "lower", 0.6,
           "proxy CPU per event under sustained load with SSE fan-out over echo CPU per request"),
    Metric("sustained_converged", "true", 0.0,
           "every SSE client must end exactly at the expected state: no tolerance"),
    Metric("peer_cpu_per_client_frame_over_nchan", "lower", 0.5,
           "proxy CPU per delivered client-frame over nchan's, same workload and run (needs nginx + nchan)",
           optional=True),
    Metric("peer_p99_over_nchan_p99", "lower", 1.5,
           "fan-out p99 over nchan's at the check's subscriber count; tails are noisy, 2.5x slack (needs nchan)",
           optional=True),
)


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b or math.isnan(a) or math.isnan(b):
        return None
    return float(a) / float(b)


def ratios(results: dict[str, Any]) -> dict[str, float | bool | None]:
    """The gate's figures from one run's results (None where a section did not run)."""
    echo_cpu = _get(results, "echo", "throughput", "server_cpu_us_per_request")
    return {
        "isolated_p50_over_echo_p50": _ratio(_get(results, "isolated", "latency_ms", "p50"),
                                             _get(results, "echo", "rtt_ms", "p50")),
        "isolated_p99_over_echo_p99": _ratio(_get(results, "isolated", "latency_ms", "p99"),
                                             _get(results, "echo", "rtt_ms", "p99")),
        "single_callbacks_over_echo": _ratio(_get(results, "ingest", "single", "ceiling_per_s"),
                                             _get(results, "echo", "throughput", "requests_per_s")),
        "callback_cpu_over_echo_cpu": _ratio(_get(results, "ingest", "single", "server_cpu_us_per_event"),
                                             echo_cpu),
        "batched_cpu_per_event_over_echo_cpu": _ratio(_get(results, "ingest", "batched", "server_cpu_us_per_event"),
                                                      echo_cpu),
        "sustained_cpu_per_event_over_echo_cpu": _ratio(_get(results, "sustained", "proxy_cpu_us_per_event"),
                                                        echo_cpu),
        "sustained_converged": _get(results, "sustained", "converged"),
        "peer_cpu_per_client_frame_over_nchan": _first_peer_ratio(results, "cpu_per_client_frame"),
        "peer_p99_over_nchan_p99": _first_peer_ratio(results, "p99"),
    }


def _first_peer_ratio(results: dict[str, Any], key: str) -> float | None:
    """The proxy/nchan ratio of ``key`` at the smallest subscriber count of the side-by-side, if nchan ran."""
    rows = _get(results, "peer", "rows") or []
    value = next((row["ratios"][key] for row in rows if "ratios" in row), None)
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True, slots=True)
class Verdict:
    metric: Metric
    baseline: float | bool | None
    current: float | bool | None
    limit: float | None
    ok: bool
    note: str

    def line(self) -> str:
        def fmt(v: float | bool | None) -> str:
            return "-" if v is None else str(v) if isinstance(v, bool) else f"{v:.3f}"

        sign = {"lower": "<=", "higher": ">=", "true": "=="}[self.metric.direction]
        limit = "true" if self.metric.direction == "true" else fmt(self.limit)
        return (f"{'PASS' if self.ok else 'FAIL'}  {self.metric.name:<30} now {fmt(self.current):>8}  "
                f"baseline {fmt(self.baseline):>8}  need {sign} {limit:<8} {self.note}")


def compare(baseline: dict[str, Any], current: dict[str, float | bool | None]) -> list[Verdict]:
    """One verdict per metric. ``baseline`` is the ``"ratios"`` object of ``bench/baseline.json``.

    A metric missing from the baseline is reported and passes (nothing to compare); a metric the
    current run could not measure fails (a section that crashed must not pass the gate silently).
    """
    verdicts = []
    for metric in METRICS:
        base = baseline.get(metric.name)
        now = current.get(metric.name)
        if metric.direction == "true":
            ok = now is True
            verdicts.append(Verdict(metric, base, now, None, ok, "" if ok else metric.why))
            continue
        if base is None:
            verdicts.append(Verdict(metric, None, now, None, True, "no baseline figure: not compared"))
            continue
        if now is None and metric.optional:
            verdicts.append(Verdict(metric, base, None, None, True, "not measured here (optional): not compared"))
            continue
        if now is None or isinstance(now, bool):
            verdicts.append(Verdict(metric, base, None, None, False, "not measured in this run"))
            continue
        base_f = float(base)
        if metric.direction == "lower":
            limit = base_f * (1 + metric.tolerance)
            ok = now <= limit
        else:
            limit = base_f * (1 - metric.tolerance)
            ok = now >= limit
        verdicts.append(Verdict(metric, base_f, float(now), limit, ok, "" if ok else "REGRESSION: " + metric.why))
    return verdicts


def passed(verdicts: list[Verdict]) -> bool:
    return all(v.ok for v in verdicts)
