"""``queuecast chaos``: every fault of the simulator, mixed on a seeded schedule, against real proxies.

One process, real servers on loopback (as ``queuecast demo`` and the end-to-end tests run them): the
simulator with a fast world (speed 10, 90 s tokens, 1 s heartbeats, redelivery every 0.5 s), and one
proxy per upstream mode — ``eventbus`` (it provisions its own subscription and takes signed
callbacks) and/or ``notifications`` (it pulls over the WebSocket) — both on the same world, each
watched by a real SSE client (:class:`~queuecast.chaos.board.Board`) that reconnects and resumes as a
browser does. The fault phase runs :func:`~queuecast.chaos.plan.schedule`'s strikes; then the world
settles: every fault off, the world paused, redeliveries drained. The checks:

- the board each SSE client holds equals ``/sim/truth`` exactly (``updatedAt`` and
  ``longestWaitingAsOf`` aside: only the proxy can know them);
- no component restarted (``queuecast_component_restarts_total``): none of the faults aims at one;
- each proxy answers ``/readyz`` 200 again;
- every strike was accepted by the simulator's control API.

The report (stdout, and ``bench/results/chaos-<time>.{json,md}``) lists each fault with how often it
struck, what the simulator counted and what each proxy did (its ``/metrics`` deltas over the run).
Exit 1 when a check fails; the seed is printed first, so a failure replays with ``--seed``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import secrets
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import httpx
import trio

from proxy.runtime import Runtime, build_runtime
from proxy.server import serve as serve_proxy
from proxy.settings import Secret, Settings
from queuecast.chaos import promtext
from queuecast.chaos.board import Board
from queuecast.chaos.plan import BY_NAME, CATALOGUE, HOSTILE, Mode, Strike, applies, schedule
from queuecast.chaos.report import write_report
from simulator.server import serve as serve_simulator
from simulator.settings import SimSettings

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
#: What only the proxy can know: a message moving interval figures alone has no instant time, and
#: ``longestWaitingAsOf`` is when the proxy asked REST.
PROXY_ONLY = ("updatedAt", "longestWaitingAsOf")

Say = Callable[[str], None]


def _say(line: str) -> None:
    print(line, flush=True)  # progress lines reach a pipe or a log file as they happen


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosConfig:
    seed: int = 1
    duration_s: float = 180.0
    """Length of the fault phase (real seconds)."""
    modes: tuple[Mode, ...] = ("eventbus", "notifications")
    settle_s: float = 90.0
    """At most this long for the world to settle and every board to equal the truth."""
    speed: float = 10.0
    queues: int = 6
    out_dir: Path | None = RESULTS
    """Where the JSON and Markdown reports go (None: not written)."""
    log_file: Path | None = None
    """The proxies' and the simulator's log lines (WARNING and above); None: not captured."""


@dataclass(eq=False)
class Target:
    """One proxy under test and the SSE client watching it."""

    mode: Mode
    url: str
    runtime: Runtime
    stop: trio.Event
    board: Board
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    converged_after_s: float | None = None
    ready: bool = False
    difference: list[str] = field(default_factory=list)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now (the Event Bus proxy must register its callback URL before it binds)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def comparable(queues: dict[str, Any]) -> dict[str, Any]:
    return {qid: {k: v for k, v in view.items() if k not in PROXY_ONLY} for qid, view in queues.items()}


def differences(board: dict[str, Any], truth: dict[str, Any], *, limit: int = 12) -> list[str]:
    """Readable differences between a board and the truth (queue ids, then fields)."""
    out = [f"queue {q} on the board, not in the truth" for q in sorted(set(board) - set(truth))]
    out += [f"queue {q} in the truth, not on the board" for q in sorted(set(truth) - set(board))]
    for q in sorted(set(board) & set(truth)):
        for key in sorted(set(board[q]) | set(truth[q])):
            if board[q].get(key) != truth[q].get(key):
                out.append(f"{q} {key}: board {json.dumps(board[q].get(key))} truth {json.dumps(truth[q].get(key))}")
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


class Chaos:
    """One run: start everything, strike, settle, check, report."""

    def __init__(self, cfg: ChaosConfig, *, say: Say = _say) -> None:
        self.cfg = cfg
        self.say = say
        self.secret = secrets.token_hex(16)
        self.sim_settings = SimSettings(
            seed=cfg.seed, speed=cfg.speed, queues=cfg.queues, agents=8 * cfg.queues, arrivals_per_min=40.0,
            heartbeat_s=1.0, notify_min_interval_s=0.5, token_ttl_s=90, retry_interval_s=0.5,
            max_retry_attempts=40, callback_secret=self.secret, socket_closing_grace_s=2.0 * cfg.speed,
        )
        self.plan = schedule(cfg.seed, cfg.duration_s, cfg.modes)
        self.struck: list[dict[str, Any]] = []
        self.targets: list[Target] = []
        self.sim_url = ""
        self.http = httpx.AsyncClient(timeout=10.0)
        self.created = 0

    # ---------------------------------------------------------------- set-up
    def proxy_settings(self, mode: Mode) -> Settings:
        port = free_port() if mode == "eventbus" else 0
        s = self.sim_settings
        return Settings(
            host="127.0.0.1", port=port, callback_secret=Secret(self.secret), aggregate_ms=100, upstream=mode,
            api_base=self.sim_url, login_base=self.sim_url, client_id=s.client_id,
            client_secret=Secret(s.client_secret), public_url=f"http://127.0.0.1:{port}" if port else None,
            refresh_s=1.0, rediscover_s=2.0, heartbeat_timeout_s=3.0, stale_after_s=60.0, log_level="WARNING",
        )

    async def start_proxy(self, nursery: trio.Nursery, mode: Mode) -> Target:
        settings = self.proxy_settings(mode)
        runtime = build_runtime(settings)
        stop = trio.Event()
        url = await nursery.start(functools.partial(serve_proxy, settings, runtime=runtime, shutdown_trigger=stop.wait))
        board = Board(url)
        target = Target(mode, url, runtime, stop, board)
        await nursery.start(board.run)
        return target

    async def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.http.request(method, f"{self.sim_url}{path}", **kwargs)
        r.raise_for_status()
        return r.json() if r.content else None

    async def truth(self) -> dict[str, Any]:
        return comparable((await self.sim("GET", "/sim/truth"))["queues"])

    async def metrics(self, target: Target) -> dict[str, float]:
        r = await self.http.get(f"{target.url}/metrics")
        return promtext.parse(r.text)

    async def readyz(self, target: Target) -> bool:
        return (await self.http.get(f"{target.url}/readyz")).status_code == 200

    async def wait_synced(self, within_s: float = 30.0) -> None:
        """Every board holds every queue of the truth, and every proxy is ready."""
        with trio.fail_after(within_s):
            while True:
                truth = await self.truth()
                ok = [set(t.board.views) == set(truth) and await self.readyz(t) for t in self.targets]
                if all(ok):
                    return
                await trio.sleep(0.2)

    # ---------------------------------------------------------------- the fault phase
    async def strike(self, s: Strike, nursery: trio.Nursery) -> None:
        fault = BY_NAME[s.fault]
        record: dict[str, Any] = {"atS": s.at_s, "fault": s.fault, "durationS": s.duration_s}
        try:
            record["answer"] = await self._apply(s)
            if fault.kind == "window":
                nursery.start_soon(self._window_off, s)
            record["ok"] = True
        except (httpx.HTTPError, ValueError) as exc:
            record["ok"] = False
            record["error"] = f"{type(exc).__name__}: {exc}"
        self.struck.append(record)

    async def _apply(self, s: Strike) -> Any:
        fault = BY_NAME[s.fault]
        if fault.kind == "window":
            return await self.sim("PUT", "/sim/faults", json=fault.faults)
        name = s.fault
        if name == "rate_limit_storm":
            return await self.sim("POST", "/sim/ratelimit/storm", json={"seconds": s.params["seconds"]})
        if name == "oauth_outage":  # the tokens expire as it goes down: the proxies must ask during it
            down = await self.sim("POST", "/sim/oauth/outage", json={"seconds": s.params["seconds"]})
            return {**down, **await self.sim("POST", "/sim/tokens/expire")}
        if name == "token_revoked":
            return await self.sim("POST", "/sim/tokens/revoke")
        if name == "token_expired_early":
            return await self.sim("POST", "/sim/tokens/expire")
        if name == "socket_closing":
            return await self.sim("POST", "/sim/sockets/closing", json={"graceS": 2.0 * self.cfg.speed})
        if name == "silent_socket":
            return await self.sim("POST", "/sim/sockets/silence", json={})
        if name == "no_longer_subscribed":
            return await self.sim("POST", "/sim/channels/unsubscribe", json={"gone": False})
        if name == "channel_gone":
            return await self.sim("POST", "/sim/channels/unsubscribe", json={"gone": True})
        if name == "queue_deleted":
            queues = (await self.sim("GET", "/sim/queues"))["entities"]
            if len(queues) <= 2:
                return {"skipped": "two queues left"}
            victim = queues[int(s.params["pick"] * len(queues))]["id"]
            await self.sim("DELETE", f"/sim/queues/{victim}")
            return {"deleted": victim}
        if name == "queue_created":
            self.created += 1
            return await self.sim("POST", "/sim/queues", json={"name": f"Chaos {self.cfg.seed}-{self.created}"})
        raise ValueError(f"no way to apply {name!r}")

    async def _window_off(self, s: Strike) -> None:
        await trio.sleep(s.duration_s)
        fault = BY_NAME[s.fault]
        await self.sim("PUT", "/sim/faults", json=dict.fromkeys(fault.faults, 0.0) if fault.name != "latency_spikes"
                       else {"latencySpikeProbability": 0.0})

    async def fault_phase(self) -> None:
        cfg = self.cfg
        start = trio.current_time()
        # a busy world: calls keep arriving on every queue for the whole phase (simulated seconds)
        await self.sim("POST", "/sim/waves", json={"ratePerMin": 90, "durationS": cfg.duration_s * cfg.speed})
        next_progress = 10.0
        async with trio.open_nursery() as windows:
            for s in self.plan:
                while start + s.at_s > trio.current_time() + 0.001:
                    await trio.sleep_until(min(start + s.at_s, start + next_progress))
                    if trio.current_time() >= start + next_progress:
                        await self.progress(trio.current_time() - start)
                        next_progress += 10.0
                await self.strike(s, windows)
            await trio.sleep_until(start + cfg.duration_s)
            windows.cancel_scope.cancel()  # every window closes with the faults cleared below

    async def progress(self, t: float) -> None:
        stats = await self.sim("GET", "/sim/stats")
        boards = ", ".join(f"{t.mode} {len(t.board.views)} queues/{t.board.deltas} deltas/{t.board.connects} connects"
                           for t in self.targets)
        self.say(f"  t={t:5.1f}s  strikes {len(self.struck)}/{len(self.plan)}  deliveries {stats['deliveries']} "
                 f"redeliveries {stats['redeliveries']}  sockets {stats['sockets']}  |  {boards}")

    # ---------------------------------------------------------------- settling and checks
    async def settle(self) -> float:
        """Faults off, world paused, redeliveries drained; then wait until every board equals the truth.
        Returns the seconds it took (or the whole budget)."""
        start = trio.current_time()
        deadline = start + self.cfg.settle_s
        await self.sim("DELETE", "/sim/faults")
        await self.sim("POST", "/sim/pause")
        with trio.move_on_at(deadline):
            while True:
                stats = await self.sim("GET", "/sim/stats")
                if stats["redeliveriesPending"] == 0 and stats["deliveryBacklog"] == 0:
                    break
                await trio.sleep(0.2)
        pending = [t for t in self.targets]
        while pending and trio.current_time() < deadline:
            truth = await self.truth()
            for t in list(pending):
                if comparable(t.board.views) == truth and await self.readyz(t):
                    t.converged_after_s = round(trio.current_time() - start, 1)
                    pending.remove(t)
            await trio.sleep(0.25)
        truth = await self.truth()
        for t in self.targets:
            t.difference = differences(comparable(t.board.views), truth)
            t.ready = await self.readyz(t)
        return round(trio.current_time() - start, 1)

    def checks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for t in self.targets:
            out.append({"check": f"{t.mode}: the SSE board equals /sim/truth", "ok": not t.difference,
                        "detail": f"after {t.converged_after_s} s of settling" if not t.difference
                        else "; ".join(t.difference)})
            restarts = promtext.matching(promtext.deltas(t.before, t.after), "queuecast_component_restarts_total")
            out.append({"check": f"{t.mode}: no component restarted", "ok": not restarts,
                        "detail": ", ".join(f"{k} +{v:g}" for k, v in restarts.items()) or "none"})
            out.append({"check": f"{t.mode}: /readyz 200 after settling", "ok": t.ready, "detail": ""})
        failed = [s for s in self.struck if not s["ok"]]
        out.append({"check": "every strike accepted by the simulator", "ok": not failed,
                    "detail": "; ".join(f"{s['fault']} at {s['atS']} s: {s['error']}" for s in failed)
                    or f"{len(self.struck)} strikes"})
        return out

    # ---------------------------------------------------------------- the run
    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.say(f"queuecast chaos: seed {cfg.seed}, {cfg.duration_s:g} s of faults, modes {'+'.join(cfg.modes)}, "
                 f"{len(self.plan)} strikes (replay: queuecast chaos --seed {cfg.seed} --duration {cfg.duration_s:g} "
                 f"--mode {mode_arg(cfg.modes)})")
        started_at = datetime.now(UTC)
        wall = time.monotonic()
        async with self.http, trio.open_nursery() as nursery:
            self.sim_url = await nursery.start(functools.partial(serve_simulator, self.sim_settings))
            for mode in cfg.modes:
                self.targets.append(await self.start_proxy(nursery, mode))
            await self.wait_synced()
            sim_before = await self.sim("GET", "/sim/stats")
            for t in self.targets:
                t.before = await self.metrics(t)
            self.say(f"  simulator {self.sim_url}; " + ", ".join(f"{t.mode} proxy {t.url}" for t in self.targets))
            await self.fault_phase()
            self.say("  fault phase over: faults off, world paused, settling ...")
            settle_s = await self.settle()
            sim_after = await self.sim("GET", "/sim/stats")
            for t in self.targets:
                t.after = await self.metrics(t)
                t.stop.set()
            nursery.cancel_scope.cancel()
        checks = self.checks()
        report = self.report(started_at, time.monotonic() - wall, settle_s, checks,
                             promtext.deltas(_numbers(sim_before), _numbers(sim_after)))
        return report

    def report(self, started_at: datetime, wall_s: float, settle_s: float, checks: list[dict[str, Any]],
               sim_deltas: dict[str, float]) -> dict[str, Any]:
        cfg = self.cfg
        proxy_deltas = {t.mode: promtext.deltas(t.before, t.after) for t in self.targets}
        faults = []
        for fault in (*CATALOGUE, HOSTILE):
            if not applies(fault, cfg.modes):
                continue
            strikes = [s for s in self.struck if s["fault"] == fault.name]
            did = {mode: {k: v for prefix in fault.proxy_metrics for k, v in promtext.matching(d, prefix).items()}
                   for mode, d in proxy_deltas.items()}
            faults.append({"fault": fault.name, "target": fault.target, "what": fault.what, "strikes": len(strikes),
                           "windowS": round(sum(s["durationS"] for s in strikes), 1),
                           "simulator": {c: sim_deltas.get(c, 0.0) for c in fault.sim_counters}, "proxy": did})
        return {
            "command": f"queuecast chaos --seed {cfg.seed} --duration {cfg.duration_s:g} --mode {mode_arg(cfg.modes)}",
            "seed": cfg.seed, "durationS": cfg.duration_s, "modes": list(cfg.modes), "speed": cfg.speed,
            "queues": cfg.queues, "startedAt": started_at.isoformat(timespec="seconds"),
            "wallS": round(wall_s, 1), "settleS": settle_s, "ok": all(c["ok"] for c in checks), "checks": checks,
            "faults": faults, "strikes": self.struck,
            "boards": {t.mode: {"snapshots": t.board.snapshots, "deltas": t.board.deltas,
                                "connects": t.board.connects, "ends": t.board.ends,
                                "convergedAfterS": t.converged_after_s} for t in self.targets},
            "simulatorDeltas": sim_deltas, "proxyDeltas": proxy_deltas,
        }


def _numbers(stats: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in stats.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def mode_arg(modes: tuple[Mode, ...]) -> str:
    return "both" if len(modes) == 2 else modes[0]


async def run_chaos(cfg: ChaosConfig, *, say: Say = _say) -> dict[str, Any]:
    """One chaos run; returns the report (``report["ok"]``: every check passed), written under
    ``cfg.out_dir`` when set."""
    handler: logging.Handler | None = None
    if cfg.log_file is not None:
        cfg.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(cfg.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.WARNING)
        logging.getLogger().addHandler(handler)
    try:
        report = await Chaos(cfg, say=say).run()
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
    if cfg.log_file is not None:
        report["logFile"] = _shown(cfg.log_file)
    if cfg.out_dir is not None:
        report["files"] = [_shown(p) for p in write_report(report, cfg.out_dir)]
    return report


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (reports travel; checkouts differ)."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="queuecast chaos",
        description="Run the simulator with every fault it can inject, mixed on a seeded schedule, against "
        "real proxies on loopback (one per upstream mode), each watched by a real SSE client. After the fault "
        "phase the world settles (faults off, world paused, redeliveries drained) and the run checks that "
        "each client's board equals /sim/truth exactly, that no proxy component restarted and that each "
        "proxy is ready again. Prints a report (each fault, its count, what the simulator counted, what "
        "each proxy did: /metrics deltas) and writes it to bench/results/chaos-<time>.{json,md}. "
        "Exit 1 when a check fails; rerun with the printed --seed to replay the same schedule.",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the schedule and the world (default 1)")
    parser.add_argument("--duration", type=float, default=180.0,
                        help="seconds of faults before the world settles (default 180)")
    parser.add_argument("--mode", choices=("eventbus", "notifications", "both"), default="both",
                        help="which upstream the proxy uses: eventbus (signed callbacks), notifications "
                        "(WebSocket), or both side by side on one world (default)")
    parser.add_argument("--settle", type=float, default=90.0,
                        help="at most this many seconds for every board to equal the truth (default 90)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the reports (default bench/results)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.duration < 10:
        build_parser().error("--duration must be at least 10 s")
    modes: tuple[Mode, ...] = get_args(Mode) if args.mode == "both" else (args.mode,)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = ChaosConfig(seed=args.seed, duration_s=args.duration, modes=modes, settle_s=args.settle,
                      out_dir=args.out, log_file=args.out / f"chaos-{stamp}.log")
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger().addHandler(logging.NullHandler())
    report: dict[str, Any] = {}

    async def go() -> None:
        report.update(await run_chaos(cfg))

    from queuecast.cli import run_trio

    code = run_trio("queuecast chaos", go, hint="loopback ports")
    if code or not report:
        return code or 1
    from queuecast.chaos.report import markdown

    print(markdown(report))
    print(f"queuecast chaos: {'PASSED' if report['ok'] else 'FAILED'} (seed {cfg.seed}); "
          f"report: {', '.join(report.get('files', []))}", file=sys.stdout if report["ok"] else sys.stderr)
    return 0 if report["ok"] else 1
