"""Scale-out figures (``python -m bench.cluster``): what the Redis hop costs, what a second worker buys.

Same run, same machine, same client code (:mod:`bench.latency`, :mod:`bench.fanout`):

- isolated event latency (callback sent → SSE frame) of one process with the in-memory broker against
  one process with ``QC_REDIS_URL`` (callback → Redis intake → leader → frame stream → fan-out): the
  difference is the Redis hop;
- fan-out of one process against ``queuecast proxy --workers 2`` on one port.

Needs ``redis-server``; starts it on a free port. Writes ``bench/results/cluster-latest.json``. The
fan-out RSS figures of ``--workers 2`` are the parent's only (the workers are its children): ignore them.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import trio

from bench.fanout import fanout
from bench.latency import isolated_latency
from bench.procs import Child, queuecast_argv, start, start_proxy
from bench.progress import say

SECRET = "bench-cluster-secret"
RESULTS = Path(__file__).resolve().parent / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_leader(urls: list[str], within_s: float = 20.0) -> None:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        for url in urls:
            try:
                with urllib.request.urlopen(f"{url}/metrics", timeout=1) as r:
                    if re.search(rb"^queuecast_cluster_leader 1\.0$", r.read(), re.M):
                        return
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError("no cluster leader")


async def run(*, events: int, listeners: int, steps: tuple[int, ...], hold_s: float, bound_ms: float) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench.cluster: redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    redis = subprocess.Popen(  # noqa: ASYNC220  # starts it, does not wait
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    results: dict[str, Any] = {"isolated": {}, "fanout": {}}
    try:
        await trio.sleep(0.3)
        for name, extra in (("memory", {}), ("redis", {"QC_REDIS_URL": url, "QC_REDIS_PREFIX": "iso"})):
            say(f"isolated latency, one process, {name} broker")
            proxy = start_proxy(secret=SECRET, aggregate_ms=0, extra=extra)
            try:
                if extra:
                    _wait_leader([proxy.url])
                iso = await isolated_latency(proxy.url, secret=SECRET, events=events, listeners=listeners)
            finally:
                proxy.stop()
            results["isolated"][name] = iso.report(listeners)
        runs: list[tuple[str, Child]] = []
        for name in ("1 process", "--workers 2"):
            say(f"fan-out, {name}")
            if name == "1 process":
                proxy = start_proxy(secret=SECRET, aggregate_ms=0)
            else:
                proxy = start("proxy", queuecast_argv("proxy", "--port", "0", "--workers", "2"),
                              env={"QC_CALLBACK_SECRET": SECRET, "QC_AGGREGATE_MS": "0", "QC_LOG_LEVEL": "WARNING",
                                   "QC_REDIS_URL": url, "QC_REDIS_PREFIX": "fan"})
                _wait_leader([proxy.url])
            runs.append((name, proxy))
            try:
                results["fanout"][name] = await fanout(proxy, secret=SECRET, steps=steps, hold_s=hold_s,
                                                       bound_ms=bound_ms)
            finally:
                proxy.stop(timeout_s=15)
    finally:
        redis.terminate()
        redis.wait()
    iso = results["isolated"]
    results["redis_hop_ms"] = {q: round(iso["redis"]["latency_ms"][q] - iso["memory"]["latency_ms"][q], 2)
                               for q in ("p50", "p99")}
    one, two = (results["fanout"][n]["max_clients_held"] for n in ("1 process", "--workers 2"))
    results["workers_2_over_1"] = round(two / one, 2) if one else None
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500, help="isolated events per broker")
    parser.add_argument("--listeners", type=int, default=10, help="SSE listeners for the isolated events")
    parser.add_argument("--steps", default="500,1000,2000,3000,4000", help="fan-out client counts")
    parser.add_argument("--hold-s", type=float, default=5.0, help="seconds measured at each fan-out step")
    parser.add_argument("--bound-ms", type=float, default=500.0, help="p99 a fan-out step must hold")
    args = parser.parse_args(argv)
    steps = tuple(int(s) for s in args.steps.split(","))
    results = trio.run(lambda: run(events=args.events, listeners=args.listeners, steps=steps, hold_s=args.hold_s,
                                   bound_ms=args.bound_ms))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    iso = results["isolated"]
    print("\nisolated event, callback → SSE frame (ms):")
    for name in ("memory", "redis"):
        lat = iso[name]["latency_ms"]
        print(f"  {name:<7} p50 {lat['p50']:.2f}  p99 {lat['p99']:.2f}  (missed {iso[name]['missed']})")
    print(f"  Redis hop adds p50 {results['redis_hop_ms']['p50']:.2f} ms, p99 {results['redis_hop_ms']['p99']:.2f} ms")
    print("fan-out, clients held at p99 ≤ bound:")
    for name, fan in results["fanout"].items():
        print(f"  {name:<12} {fan['max_clients_held']}")
    print(f"  --workers 2 / 1 process = {results['workers_2_over_1']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
