"""``queuecast bench --compare REF``: the candidate (this tree) against REF, interleaved, decided with statistics.

The same-run ratio gate (``--check``, :mod:`bench.gate`) compares with a baseline recorded on another
day, so its tolerances must absorb a day's noise and a 20 % regression slips through. Here the base
is measured *in the same job*: REF is built in a cached worktree + venv (:mod:`bench.basetree`), and
each round starts a fresh proxy of each side in turn (AB, then BA, ...), runs the same short
workloads on it (the existing bench modules: :func:`bench.latency.isolated_latency`,
:func:`bench.ingest.closed_loop`) and records one value per figure. :mod:`bench.ab` turns the paired
rounds into a ratio, a 95 % interval and a verdict; any ``"worse"`` exits 1.

Figures (all: lower is better):

* ``iso_p50_ms`` / ``iso_p99_ms`` — callback sent → SSE frame at a listener, isolated events
  (``QC_AGGREGATE_MS=0``);
* ``iso_cpu_us_per_frame`` — proxy CPU during the isolated run per delivered client frame (it
  includes the callback that caused the frames);
* ``callback_cpu_us`` — proxy CPU per single-event callback, closed loop;
* ``batched_cpu_us_per_event`` — proxy CPU per event in batched callbacks, closed loop;
* ``fanout_cpu_us_per_client_frame`` — proxy CPU per delivered client-frame with a few hundred
  streams (:func:`bench.fanout.cpu_per_client_frame`): the fan-out path's cost;
* ``staleness_p99_ms`` — sustained load through the default 500 ms window, a second proxy per
  round (:func:`bench.sustained.sustained`): event sent → on the probes' boards, p99.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trio

from bench import ab, basetree, procs
from bench.callback import CALLBACK_PATH
from bench.fanout import cpu_per_client_frame
from bench.ingest import callback_bodies, closed_loop
from bench.latency import isolated_latency
from bench.progress import say
from bench.stats import percentile
from bench.sustained import sustained
from bench.workload import Workload

SECRET = "bench-compare-secret"

#: Every figure the compare measures, with what it means.
FIGURES: dict[str, str] = {
    "iso_p50_ms": "isolated event: callback sent -> SSE frame, median (ms)",
    "iso_p99_ms": "isolated event: callback sent -> SSE frame, p99 (ms)",
    "iso_cpu_us_per_frame": "proxy CPU per delivered client frame in the isolated run, callback included (µs)",
    "callback_cpu_us": "proxy CPU per single-event callback, closed loop (µs)",
    "batched_cpu_us_per_event": "proxy CPU per event in batched callbacks, closed loop (µs)",
    "fanout_cpu_us_per_client_frame": "proxy CPU per delivered client-frame, a few hundred streams (µs)",
    "staleness_p99_ms": "sustained load, 500 ms window: event sent -> on the board, p99 (ms)",
}


@dataclass(frozen=True, slots=True)
class RoundShape:
    """What one side does in one round (defaults: about 16 s per side, 12 rounds in about 6.5 min on 2 cores)."""

    iso_events: int = 200
    listeners: int = 3
    warmup_s: float = 0.3
    single_concurrency: int = 2
    single_s: float = 1.5
    batch: int = 25
    batched_s: float = 1.5
    fan_clients: int = 500
    fan_frames: int = 60  # 30,000 client-frames: one 10 ms CPU tick is ~0.3 µs of ~13
    sustained_rate: float = 1000.0
    sustained_queues: int = 100
    sustained_clients: int = 50
    sustained_s: float = 3.0


@dataclass(frozen=True, slots=True)
class Side:
    """How to start one side's proxy."""

    label: str
    command: list[str] | None
    """``None``: ``python -m queuecast`` of this tree; else e.g. the base venv's console script."""
    cwd: Path
    extra_env: dict[str, str]


def parse_figures(text: str) -> tuple[str, ...]:
    """A comma-separated subset of :data:`FIGURES`; ``SystemExit`` names any unknown one."""
    wanted = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in wanted if f not in FIGURES]
    if unknown:
        raise SystemExit(f"queuecast bench --compare: unknown figure(s) {unknown}; choose from {list(FIGURES)}")
    return wanted


async def measure(side: Side, shape: RoundShape) -> dict[str, float]:
    """One round of one side: a fresh proxy for the isolated run, the two closed loops and the
    fan-out CPU (``QC_AGGREGATE_MS=0``), then a fresh one with the default window for the sustained run."""
    proxy = procs.start_proxy(secret=SECRET, aggregate_ms=0, command=side.command, cwd=side.cwd,
                              extra=side.extra_env)
    try:
        workload = Workload(50, prefix="cmp")
        bodies = callback_bodies(workload, SECRET)
        await closed_loop(proxy.url, CALLBACK_PATH, bodies(1), concurrency=1, seconds=shape.warmup_s)
        cpu0 = proxy.cpu_seconds()
        iso = await isolated_latency(proxy.url, secret=SECRET, events=shape.iso_events, listeners=shape.listeners)
        iso_cpu = proxy.cpu_seconds() - cpu0
        single = await closed_loop(proxy.url, CALLBACK_PATH, bodies(1), concurrency=shape.single_concurrency,
                                   seconds=shape.single_s, server=proxy)
        batched = await closed_loop(proxy.url, CALLBACK_PATH, bodies(shape.batch), concurrency=1,
                                    seconds=shape.batched_s, server=proxy)
        fan_cpu = await cpu_per_client_frame(proxy, secret=SECRET, clients=shape.fan_clients,
                                             frames=shape.fan_frames)
    finally:
        proxy.stop()
    windowed = procs.start_proxy(secret=SECRET, aggregate_ms=500, command=side.command, cwd=side.cwd,
                                 extra=side.extra_env)
    try:
        sus = await sustained(windowed, secret=SECRET, rate=shape.sustained_rate, queues=shape.sustained_queues,
                              clients=shape.sustained_clients, probes=2, seconds=shape.sustained_s, batch=10,
                              window_ms=500, posters=4, quiet=True)
    finally:
        windowed.stop()
    lat = sorted(iso.latencies_s)
    return {
        "iso_p50_ms": percentile(lat, 50) * 1000,
        "iso_p99_ms": percentile(lat, 99) * 1000,
        "iso_cpu_us_per_frame": iso_cpu / max(1, len(lat)) * 1e6,
        "callback_cpu_us": single.cpu_s / max(1, single.requests) * 1e6,
        "batched_cpu_us_per_event": batched.cpu_s / max(1, batched.events) * 1e6,
        "fanout_cpu_us_per_client_frame": fan_cpu,
        "staleness_p99_ms": percentile(sorted(sus.staleness_s), 99) * 1000,
    }


async def interleave(base: Side, candidate: Side, *, rounds: int, shape: RoundShape,
                     ) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """``rounds`` rounds, AB then BA alternately (neither side always runs first, i.e. warm)."""
    a: list[dict[str, float]] = []
    b: list[dict[str, float]] = []
    for i in range(rounds):
        order = (base, candidate) if i % 2 == 0 else (candidate, base)
        for side in order:
            values = await measure(side, shape)
            (a if side is base else b).append(values)
        say(f"round {i + 1}/{rounds}: " + "  ".join(
            f"{k} {a[-1][k]:.2f}->{b[-1][k]:.2f}" for k in ("iso_p50_ms", "callback_cpu_us",
                                                         "fanout_cpu_us_per_client_frame")))
    return a, b


def decide_all(a: Sequence[dict[str, float]], b: Sequence[dict[str, float]], figures: Sequence[str],
               ) -> list[ab.Decision]:
    return [ab.decide(f, [r[f] for r in a], [r[f] for r in b]) for f in figures]


def _row(d: ab.Decision) -> list[str]:
    verdict = f"**{d.verdict}**" if d.verdict == "worse" else d.verdict
    return [d.figure, f"{d.base:.2f}", f"{d.candidate:.2f}", f"{d.change * 100:+.1f} %",
            f"[{(d.low - 1) * 100:+.1f} %, {(d.high - 1) * 100:+.1f} %]", verdict]


HEADER = ["figure", "base", "candidate", "change", "95 % interval", "verdict"]


def markdown_table(decisions: Sequence[ab.Decision]) -> str:
    rows = [HEADER, ["---"] * len(HEADER), *(_row(d) for d in decisions)]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def text_table(decisions: Sequence[ab.Decision]) -> str:
    rows = [HEADER, *(_row(d) for d in decisions)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _describe(root: Path) -> str:
    head = basetree.git("rev-parse", "HEAD", cwd=root)
    dirty = basetree.git("status", "--porcelain", "--untracked-files=no", "--", "proxy", "queuecast", cwd=root)
    return head + (" + uncommitted changes" if dirty else "")


def run_compare(*, ref: str | None, rounds: int, out: Path, figures: Sequence[str] = tuple(FIGURES),
                shape: RoundShape = RoundShape()) -> int:
    """Build the base, run the rounds, print and write the table; 0, or 1 when a figure is worse."""
    root = procs.ROOT
    ref = ref or basetree.default_ref(root)
    t0 = time.perf_counter()
    base_tree = basetree.build(root, ref)
    built_s = time.perf_counter() - t0
    # PYTHONPATH pins each side to its own tree, whatever the caller's environment says.
    base = Side("base", base_tree.queuecast, base_tree.tree, {"PYTHONPATH": str(base_tree.tree)})
    candidate = Side("candidate", None, root, {"PYTHONPATH": str(root)})
    procs.raise_nofile()
    say(f"compare: {rounds} rounds, base {ref} ({base_tree.commit[:12]}) vs candidate {root}")
    a, b = trio.run(lambda: interleave(base, candidate, rounds=rounds, shape=shape))
    decisions = decide_all(a, b, figures)
    wall_s = time.perf_counter() - t0
    worse = ab.failed(decisions)
    print("\nA/B against the base, same job, interleaved rounds; 'worse' = at least +10 % and the 95 % interval "
          "above no change")
    print(text_table(decisions))
    print("compare: " + ("FAIL: a figure is worse (see above)" if worse else
                         "no figure is worse by 10 % with 95 % confidence"))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    meta = {"base_ref": ref, "base_commit": base_tree.commit, "candidate": _describe(root), "rounds": rounds,
            "shape": {k: getattr(shape, k) for k in shape.__dataclass_fields__}, "build_s": round(built_s, 1),
            "wall_s": round(wall_s, 1), "python": platform.python_version(), "failed": worse}
    (out / f"compare-{stamp}.json").write_text(json.dumps({
        **meta, "figures": FIGURES,
        "decisions": [{"figure": d.figure, "base": d.base, "candidate": d.candidate, "ratio": d.ratio,
                       "low": d.low, "high": d.high, "pairs": d.pairs, "verdict": d.verdict} for d in decisions],
        "rounds_base": a, "rounds_candidate": b}, indent=2) + "\n")
    (out / f"compare-{stamp}.md").write_text(
        f"# queuecast bench --compare {ref}\n\nbase {base_tree.commit} · candidate {meta['candidate']} · "
        f"{rounds} rounds · {wall_s:.0f} s\n\n{markdown_table(decisions)}\n")
    say(f"compare: {wall_s:.0f} s (base build {built_s:.0f} s); written to {out}/compare-{stamp}.{{json,md}}")
    return 1 if worse else 0
