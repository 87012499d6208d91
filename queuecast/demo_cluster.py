"""``make demo-cluster``: Redis + the simulator + three clustered proxies on one machine.

Starts ``redis-server`` (Debian's; a free port, no persistence), the simulator, and three ``queuecast
proxy`` processes in Notifications mode sharing that Redis. Prints each wallboard, which instance leads
and how to kill it, then reports every change of leader until Ctrl-C, when it stops everything.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence

from simulator.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # loopback URLs we built
            body: bytes = response.read()
            return body.decode()
    except OSError:
        return None


def _wait(url: str, what: str, within_s: float = 20.0) -> None:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        if _get(url) is not None:
            return
        time.sleep(0.1)
    raise SystemExit(f"demo-cluster: {what} did not start ({url})")


def _leader(ports: Sequence[int]) -> int | None:
    for port in ports:
        text = _get(f"http://127.0.0.1:{port}/metrics") or ""
        if re.search(r"^queuecast_cluster_leader 1\.0$", text, re.M):
            return port
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m queuecast.demo_cluster", description=__doc__)
    parser.add_argument("--ports", default="8081,8082,8083", help="the proxies' ports (comma-separated)")
    parser.add_argument("--sim-port", type=int, default=9000, help="the simulator's port")
    parser.add_argument("--lease-s", type=float, default=5.0, help="QC_LEASE_S of the cluster")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    binary = shutil.which("redis-server")
    if binary is None:
        print("demo-cluster: redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 2
    redis_port = _free_port()
    sim_url = f"http://127.0.0.1:{args.sim_port}"
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(subprocess.Popen([binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no"], stdout=subprocess.DEVNULL))
        children.append(subprocess.Popen([sys.executable, "-m", "queuecast", "simulator", "--port",
                                          str(args.sim_port)], stdout=subprocess.DEVNULL))
        _wait(f"{sim_url}/sim/stats", "the simulator")
        env = {**os.environ, "QC_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "QC_LEASE_S": str(args.lease_s),
               "QC_UPSTREAM": "notifications", "QC_API_BASE": sim_url, "QC_LOGIN_BASE": sim_url,
               "QC_CLIENT_ID": DEMO_CLIENT_ID, "QC_CLIENT_SECRET": DEMO_CLIENT_SECRET, "QC_DEMO": "1",
               "QC_LOG_LEVEL": "WARNING"}
        pids: dict[int, int] = {}
        for port in ports:
            proc = subprocess.Popen([sys.executable, "-m", "queuecast", "proxy", "--port", str(port)], env=env,
                                    stdout=subprocess.DEVNULL)
            children.append(proc)
            pids[port] = proc.pid
        for port in ports:
            _wait(f"http://127.0.0.1:{port}/healthz", f"the proxy on port {port}")
        print("demo-cluster: Redis on port", redis_port, "· simulator", sim_url)
        for port in ports:
            print(f"  wallboard http://127.0.0.1:{port}/   (pid {pids[port]})")
        print(f"  start a call wave: curl -X POST {sim_url}/sim/waves -H 'Content-Type: application/json' "
              "-d '{\"ratePerMin\": 600, \"durationS\": 60}'")
        shown: int | None = None
        while True:
            leader = _leader(ports)
            if leader != shown and leader is not None:
                print(f"leader: port {leader} (pid {pids[leader]}) — `kill -9 {pids[leader]}` and watch a "
                      f"follower take over within {args.lease_s:g} s; the boards on the other ports go on",
                      flush=True)
                shown = leader
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
