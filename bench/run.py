"""``queuecast bench``: the end-to-end benchmark on loopback, its report, and the regression gate.

Sections (each against a fresh proxy process, so one section's state never skews the next):

1. isolated   — callback → SSE frame latency of isolated events, and a bare echo's round trip;
2. ingest     — single-event callbacks/s and batched events/s with p99 ≤ 50 ms, and echo requests/s;
3. sustained  — R events/s over Q queues with N SSE clients: latency, staleness, exact convergence;
   ceiling    — the same, short, stepped up: per client count the largest rate held with staleness
   p99 ≤ 1 s (a small table; full run only, or ``--sections ceiling``);
4. wallboard  — events/s a real board in headless Chromium renders during a wave (skipped, with the
   reason, when there is no Chromium or Playwright; never gated);
5. fanout     — the most SSE clients held at ~2 frames/s each, and memory per connection;
6. peer       — with ``--peer nchan``: the issue-16 fan-out workload against the proxy and against nchan
   in the same run (:mod:`bench.peer`), both rows and their ratios.

``--check`` runs a reduced bench (< 2 minutes) and compares same-run ratios with
``bench/baseline.json`` (see :mod:`bench.gate`); it exits 1 on a regression.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in .venv (types-psutil)
import trio

from bench import browser, gate, procs, report
from bench.fanout import fanout
from bench.hostile import under_attack
from bench.ingest import callback_bodies, ceiling, echo_throughput
from bench.latency import echo_rtt, isolated_latency
from bench.peer import side_by_side
from bench.progress import say
from bench.stats import summary_ms
from bench.sustained import ceiling as ceiling_table
from bench.sustained import sustained
from bench.wallboard import WallboardFailed, wallboard
from bench.wave import WaveShape
from bench.workload import Workload

SECRET = "bench-callback-secret"
HERE = Path(__file__).resolve().parent
SECTIONS = ("isolated", "ingest", "sustained", "ceiling", "wallboard", "fanout", "hostile")
PEERS = ("nchan",)


@dataclass(frozen=True, slots=True)
class Config:
    sections: tuple[str, ...]
    iso_events: int
    listeners: int
    echo_concurrency: int
    ingest_step_s: float
    single_steps: tuple[int, ...]
    batch_steps: tuple[tuple[int, int], ...]
    rate: float
    queues: int
    clients: int
    probes: int
    duration_s: float
    batch: int
    queues_per_client: int
    window_ms: int
    fanout_steps: tuple[int, ...]
    fanout_hold_s: float
    fanout_bound_ms: float
    wallboard_rate: float
    wallboard_s: float
    peer: str | None = None
    peer_steps: tuple[int, ...] = (1000, 5000, 10000)
    peer_rounds: int = 1
    ceiling_clients: tuple[int, ...] = (1000, 2500, 5000, 10000)
    ceiling_rates: tuple[float, ...] = (2000.0, 4000.0, 8000.0, 16000.0, 24000.0, 32000.0)
    ceiling_s: float = 5.0


FULL = Config(sections=SECTIONS, iso_events=1000, listeners=10, echo_concurrency=8, ingest_step_s=2.0,
              single_steps=(1, 2, 4, 8, 16, 32),
              batch_steps=((1, 10), (1, 25), (1, 50), (2, 50), (1, 100), (2, 100)), rate=2000.0,
              queues=500, clients=1000, probes=5, duration_s=20.0, batch=50, queues_per_client=10, window_ms=500,
              fanout_steps=(1000, 2500, 5000, 10000), fanout_hold_s=4.0, fanout_bound_ms=1000.0,
              wallboard_rate=1500.0, wallboard_s=4.0)
QUICK = Config(sections=tuple(s for s in SECTIONS if s != "ceiling"), iso_events=300, listeners=5,
               echo_concurrency=8, ingest_step_s=1.0,
               single_steps=(1, 2, 4, 8, 16), batch_steps=((1, 10), (1, 25), (1, 50), (1, 100)), rate=1000.0,
               queues=200,
               clients=200, probes=3, duration_s=6.0, batch=50, queues_per_client=10, window_ms=500,
               fanout_steps=(250, 500, 1000), fanout_hold_s=2.0, fanout_bound_ms=1000.0,
               wallboard_rate=1500.0, wallboard_s=2.0)
#: The gate's run: what ``bench/baseline.json`` was recorded with; keep the two in step.
CHECK = Config(sections=("isolated", "ingest", "sustained"), iso_events=400, listeners=5, echo_concurrency=4,
               ingest_step_s=1.5, single_steps=(1, 2, 4, 8), batch_steps=((1, 10), (1, 25), (1, 50)), rate=600.0,
               queues=100, clients=100, probes=3, duration_s=5.0, batch=20, queues_per_client=10, window_ms=500,
               fanout_steps=(), fanout_hold_s=2.0, fanout_bound_ms=1000.0, wallboard_rate=1500.0, wallboard_s=2.0,
               peer="nchan", peer_steps=(1000,))  # nchan skipped (the proxy's row still runs) without nginx


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="queuecast bench",
        description="End-to-end benchmark on loopback: the proxy runs in its own process, every client is a "
                    "real HTTP connection. Writes bench/results/<timestamp>.{json,md,png} and latest.*. "
                    "Figures are absolute and noisy on a shared machine; the gate (--check) compares ratios "
                    "measured in the same run instead.",
        epilog="Examples: 'queuecast bench' (full, a few minutes); 'queuecast bench --quick'; "
               "'queuecast bench --sections sustained --clients 300 --duration 10'; "
               "'queuecast bench --check' (CI gate, < 2 min).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a scaled-down full run (about a minute)")
    mode.add_argument("--check", action="store_true",
                      help="reduced run + regression gate against --baseline; exit 1 on regression")
    mode.add_argument("--compare", nargs="?", const="", metavar="REF",
                      help="A/B against git REF (default: merge-base with main, HEAD~1 on main) in this job, "
                           "interleaved rounds; exit 1 when a figure is worse by >= 10 %% with 95 %% confidence")
    p.add_argument("--rounds", type=int, default=12, help="--compare: AB rounds (default 12)")
    p.add_argument("--figures", help="--compare: comma-separated subset of the figures (default: all)")
    p.add_argument("--sections", help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--iso-events", type=int, help="isolated events to time (full: 1000)")
    p.add_argument("--listeners", type=int, help="SSE listeners in the isolated section (full: 10)")
    p.add_argument("--rate", type=float, help="sustained events/s (full: 2000)")
    p.add_argument("--queues", type=int, help="sustained queue count (full: 500)")
    p.add_argument("--clients", type=int, help="sustained SSE clients (full: 1000)")
    p.add_argument("--queues-per-client", type=int,
                   help="?queues= filter size of each sustained client; 0 = every queue (full: 10)")
    p.add_argument("--duration", type=float, help="sustained seconds of load (full: 20)")
    p.add_argument("--batch", type=int, help="envelopes per sustained callback (full: 50)")
    p.add_argument("--window-ms", type=int, help="QC_AGGREGATE_MS of the sustained/fan-out proxy (full: 500)")
    p.add_argument("--fanout-steps", type=_ints, help="client counts to step through (full: 1000,2500,5000,10000)")
    p.add_argument("--ceiling-clients", type=_ints,
                   help="ceiling section: client counts (full: 1000,2500,5000,10000)")
    p.add_argument("--ceiling-rates", type=lambda t: tuple(float(x) for x in t.split(",") if x.strip()),
                   help="ceiling section: events/s stepped up per client count (full: 2000,4000,...,32000)")
    p.add_argument("--ceiling-s", type=float, help="ceiling section: seconds of load per cell (full: 5)")
    p.add_argument("--peer", choices=PEERS,
                   help="also run the fan-out workload (N subscribers, 20 messages 200 ms apart) against this peer "
                        "in the same run; nchan needs nginx + libnginx-mod-nchan (skipped with the reason if absent)")
    p.add_argument("--peer-steps", type=_ints, help="--peer subscriber counts (full: 1000,5000,10000; check: 1000)")
    p.add_argument("--peer-rounds", type=int,
                   help="--peer sittings per server and count, alternating order; medians reported (default 1)")
    p.add_argument("--ingest-step-s", type=float, help="seconds per ingest concurrency step (full: 2)")
    p.add_argument("--wallboard-rate", type=float, help="events/s offered to the Chromium board (full: 1500)")
    p.add_argument("--wallboard-duration", type=float, help="seconds of the wallboard wave (full: 4)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="results directory (default bench/results)")
    p.add_argument("--no-latest", action="store_true", help="do not update latest.{json,md,png}")
    p.add_argument("--baseline", type=Path, default=HERE / "baseline.json", help="baseline for --check")
    p.add_argument("--write-baseline", action="store_true",
                   help="with --check: store this run's ratios as the new baseline (review the diff!)")
    return p


def configure(args: argparse.Namespace) -> Config:
    base = CHECK if args.check else QUICK if args.quick else FULL
    over: dict[str, Any] = {}
    for arg, key in (("iso_events", "iso_events"), ("listeners", "listeners"), ("rate", "rate"),
                     ("queues", "queues"), ("clients", "clients"), ("queues_per_client", "queues_per_client"),
                     ("duration", "duration_s"), ("batch", "batch"), ("window_ms", "window_ms"),
                     ("fanout_steps", "fanout_steps"), ("ingest_step_s", "ingest_step_s"),
                     ("wallboard_rate", "wallboard_rate"), ("wallboard_duration", "wallboard_s"),
                     ("peer", "peer"), ("peer_steps", "peer_steps"), ("peer_rounds", "peer_rounds"),
                     ("ceiling_clients", "ceiling_clients"), ("ceiling_rates", "ceiling_rates"),
                     ("ceiling_s", "ceiling_s")):
        if getattr(args, arg) is not None:
            over[key] = getattr(args, arg)
    if args.sections:
        wanted = tuple(s.strip() for s in args.sections.split(",") if s.strip())
        unknown = [s for s in wanted if s not in (*SECTIONS, "peer")]
        if unknown:
            raise SystemExit(f"queuecast bench: unknown section(s) {unknown}; choose from {SECTIONS} or peer")
        if "peer" in wanted:  # --sections peer: the side-by-side alone
            over.setdefault("peer", "nchan")
        over["sections"] = tuple(s for s in wanted if s != "peer")
    return Config(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **over})


async def run_sections(cfg: Config, results: dict[str, Any], series: report.Series) -> None:
    echo = procs.start_echo()
    try:
        if "isolated" in cfg.sections or "ingest" in cfg.sections:
            say("echo: round trips and throughput of a bare HTTP server (the yardstick)")
            rtts = await echo_rtt(echo.url, requests=max(200, cfg.iso_events // 2))
            step = await echo_throughput(echo, concurrency=cfg.echo_concurrency, seconds=cfg.ingest_step_s)
            results["echo"] = {"rtt_ms": summary_ms(rtts), "throughput": step.report()}
            series["echo"] = rtts
        if "isolated" in cfg.sections:
            say(f"isolated: {cfg.iso_events} events, {cfg.listeners} listeners "
                "(QC_AGGREGATE_MS=0: every event takes the leading edge)")
            proxy = procs.start_proxy(secret=SECRET, aggregate_ms=0)
            try:
                iso = await isolated_latency(proxy.url, secret=SECRET, events=cfg.iso_events, listeners=cfg.listeners)
            finally:
                proxy.stop()
            results["isolated"] = iso.report(cfg.listeners)
            series["isolated"] = iso.first_s
            series["isolated_at"] = [t - iso.sent_at_s[0] for t in iso.sent_at_s][: len(iso.first_s)]
            lat = results["isolated"]["latency_ms"]
            say(f"isolated: p50 {lat['p50']:.2f} ms  p99 {lat['p99']:.2f} ms  max {lat['max']:.2f} ms")
        if "ingest" in cfg.sections:
            proxy = procs.start_proxy(secret=SECRET, aggregate_ms=cfg.window_ms)
            try:
                workload = Workload(cfg.queues, prefix="ing")
                say("ingest: single-event callbacks, concurrency doubling until p99 > 50 ms")
                bodies = callback_bodies(workload, SECRET)
                single = await ceiling(proxy.url, bodies, label="single", steps=tuple((c, 1) for c in cfg.single_steps),
                                       step_s=cfg.ingest_step_s, bound_ms=50.0, server=proxy)
                say("ingest: batched callbacks, growing batches until p99 > 50 ms")
                batched = await ceiling(proxy.url, bodies,
                                        label="batched", steps=cfg.batch_steps, step_s=cfg.ingest_step_s,
                                        bound_ms=50.0, server=proxy, events=True)
            finally:
                proxy.stop()
            results["ingest"] = {"single": single, "batched": batched}
    finally:
        echo.stop()
    if "sustained" in cfg.sections:
        say(f"sustained: {cfg.rate:.0f} events/s, {cfg.queues} queues, {cfg.clients} clients, {cfg.duration_s:.0f}s")
        proxy = procs.start_proxy(secret=SECRET, aggregate_ms=cfg.window_ms)
        try:
            sus = await sustained(proxy, secret=SECRET, rate=cfg.rate, queues=cfg.queues, clients=cfg.clients,
                                  probes=cfg.probes, seconds=cfg.duration_s, batch=cfg.batch,
                                  window_ms=cfg.window_ms, queues_per_client=cfg.queues_per_client)
        finally:
            proxy.stop()
        results["sustained"] = sus.report
        series["delivery"], series["delivery_at"], series["staleness"] = (sus.delivery_s, sus.delivery_at_s,
                                                                          sus.staleness_s)
        s = sus.report
        say(f"sustained: staleness p99 {s['staleness_ms']['p99']:.0f} ms, converged "
            f"{s['converged_clients']}/{s['clients']}, proxy CPU {s['proxy_cpu_percent']} %")
    if "ceiling" in cfg.sections:
        say(f"ceiling: clients {','.join(map(str, cfg.ceiling_clients))} x events/s "
            f"{','.join(f'{r:.0f}' for r in cfg.ceiling_rates)} (stepped up until not held), {cfg.ceiling_s:.0f}s each")
        results["ceiling"] = await ceiling_table(
            secret=SECRET, client_steps=cfg.ceiling_clients, rates=cfg.ceiling_rates, queues=cfg.queues,
            probes=cfg.probes, seconds=cfg.ceiling_s, batch=cfg.batch, window_ms=cfg.window_ms,
            queues_per_client=cfg.queues_per_client)
    if "wallboard" in cfg.sections:
        results["wallboard"] = await wallboard_section(cfg)
    if "fanout" in cfg.sections and cfg.fanout_steps:
        say(f"fanout: steps {','.join(map(str, cfg.fanout_steps))}")
        proxy = procs.start_proxy(secret=SECRET, aggregate_ms=cfg.window_ms)
        try:
            results["fanout"] = await fanout(proxy, secret=SECRET, steps=cfg.fanout_steps,
                                             hold_s=cfg.fanout_hold_s, bound_ms=cfg.fanout_bound_ms)
        finally:
            proxy.stop()
    if "hostile" in cfg.sections:
        say("hostile: isolated latency calm, then under a crowd of slowloris sockets and streams that never read")
        proxy = procs.start_proxy(secret=SECRET, aggregate_ms=0)
        try:
            results["hostile"] = await under_attack(proxy, secret=SECRET, events=max(200, cfg.iso_events // 2),
                                                    listeners=cfg.listeners)
        finally:
            proxy.stop()
    if cfg.peer is not None and cfg.peer_steps:
        say(f"peer: the fan-out workload against queuecast and {cfg.peer}, {','.join(map(str, cfg.peer_steps))} "
            "subscribers (20 messages 200 ms apart, QC_AGGREGATE_MS=0), one server at a time")
        results["peer"] = await side_by_side(secret=SECRET, steps=cfg.peer_steps, rounds=cfg.peer_rounds)


async def wallboard_section(cfg: Config) -> dict[str, Any]:
    """The wallboard figures; ``{"skipped": why}`` when no browser can be driven here, ``{"failed": why}``
    when the page did not get through (the run then exits 1)."""
    shape = WaveShape(events_per_s=cfg.wallboard_rate, duration_s=cfg.wallboard_s)
    reason = browser.unavailable()
    if reason is None:
        say(f"wallboard: {shape.events_per_s:.0f} events/s for {shape.duration_s:.0f}s over {shape.queues} queues "
            "into a board in headless Chromium (QC_AGGREGATE_MS=0)")
        proxy = procs.start_proxy(secret=SECRET, aggregate_ms=0)
        try:
            board = await wallboard(proxy, secret=SECRET, shape=shape)
        except browser.BrowserUnavailable as exc:
            reason = str(exc)
        except WallboardFailed as exc:  # recorded, so one flaky page does not lose the other sections
            say(f"wallboard: FAILED, {exc}")
            return {"failed": str(exc)}
        else:
            rendered = (f"{board['events_per_s']:.0f} events/s rendered, caught up in {board['catch_up_ms']:.0f} ms"
                        if board["caught_up"] else f"the board did not catch up in {board['catch_up_ms']:.0f} ms")
            long_tasks = board["long_tasks"]
            say(f"wallboard: {rendered}, {board['frames_with_two_passes']} frames with two passes, "
                f"{long_tasks['count']} long tasks (max {long_tasks['max_ms']} ms)")
            return board
        finally:
            proxy.stop()
    say(f"wallboard: skipped, {reason}")
    return {"skipped": reason}


def machine() -> str:
    return (f"{platform.machine()}, {psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GiB, "
            f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f} at start")


def run_gate(results: dict[str, Any], baseline_path: Path) -> bool:
    current = gate.ratios(results)
    if not baseline_path.exists():
        print(f"gate: no baseline at {baseline_path}; run 'queuecast bench --check --write-baseline'")
        return False
    baseline = json.loads(baseline_path.read_text())
    verdicts = gate.compare(baseline["ratios"], current)
    lines = [v.line() for v in verdicts]
    print("\nRegression gate: ratios of figures measured in this same run (proxy vs a bare echo server, same")
    print("harness), so machine speed and load cancel out; absolute times are reported but never gated.")
    print(f"baseline: {baseline_path} (recorded {baseline.get('recorded', '?')} on {baseline.get('machine', '?')})")
    for line in lines:
        print("  " + line)
    ok = gate.passed(verdicts)
    print("gate: " + ("PASS" if ok else "FAIL: a figure regressed beyond its tolerance (see above)"))
    results["gate"] = {"passed": ok, "lines": lines}
    return ok


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.compare is not None:
        from bench.compare import FIGURES, parse_figures, run_compare

        return run_compare(ref=args.compare or None, rounds=args.rounds, out=args.out,
                           figures=parse_figures(args.figures) if args.figures else tuple(FIGURES))
    if args.write_baseline and not args.check:
        print("queuecast bench: --write-baseline needs --check (the baseline is the reduced run's)", file=sys.stderr)
        return 2
    cfg = configure(args)
    procs.raise_nofile()
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "command": ("queuecast bench " + shlex.join(sys.argv[2:] if argv is None else argv)).strip(),
        "mode": "check" if args.check else "quick" if args.quick else "full",
        "machine": machine(), "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
    }
    series: report.Series = {}
    t0 = time.perf_counter()
    trio.run(run_sections, cfg, results, series)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    results["ratios"] = gate.ratios(results)
    ok = True
    if args.check:
        ok = run_gate(results, args.baseline)
        if args.write_baseline:
            args.baseline.write_text(json.dumps({
                "recorded": results["started"], "machine": results["machine"], "command": results["command"],
                "note": "ratios of a 'queuecast bench --check' run; the gate compares against these",
                "ratios": results["ratios"]}, indent=2) + "\n")
            print(f"baseline written to {args.baseline}")
            ok = True
    if "failed" in results.get("wallboard", {}):
        ok = False
    path = report.write(results, series, args.out, stamp, latest=not args.no_latest and not args.check)
    print(report.markdown(results))
    say(f"results written to {path} (+ .md, .png){'' if args.check or args.no_latest else ' and latest.*'}")
    return 0 if ok else 1
