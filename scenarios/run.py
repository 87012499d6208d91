"""``python -m scenarios.run --scenario NAME --users N --duration D``: one Locust scenario, headless.

Starts what the scenario needs (a proxy unless ``--host`` names one; a simulator for
``token_expiry`` — the proxy then pulls from it over Notifications with its own, short-lived token —
and ``reconnect_storm`` — subscribed to the proxy through its Event Bus), then runs
``.venv-load/bin/locust -f scenarios/NAME.py --headless`` and writes
``scenarios/results/NAME_stats.csv`` (and the other CSVs) and ``NAME.html``. Exit status is
Locust's: non-zero when any request or custom check failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench import procs
from bench.messages import observations_topic

ROOT = Path(__file__).resolve().parent.parent
LOCUST = ROOT / ".venv-load" / "bin" / "locust"
RESULTS = ROOT / "scenarios" / "results"
SCENARIOS = ("call_wave", "dashboards", "token_expiry", "reconnect_storm", "replay")
NEEDS_SIMULATOR = {"token_expiry", "reconnect_storm"}
SECRET = "scenario-callback-secret"


def seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"duration like 30s, 2m or 45: {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def subscribe(sim_url: str, proxy_url: str, secret: str) -> None:
    """Point the simulator's Event Bus at the proxy's callback (the push path of DESIGN 3.1), on the
    ``v2.analytics.queues.{id}.observations`` topic of every queue the routing API lists (as
    ``queuecast/wiring.py`` does): real-shaped messages."""
    basic = base64.b64encode(b"queuecast-demo:queuecast-demo-secret").decode()
    token = json.loads(_http("POST", f"{sim_url}/oauth/token", b"grant_type=client_credentials",
                             {"Authorization": f"Basic {basic}",
                              "Content-Type": "application/x-www-form-urlencoded"}))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    queues = json.loads(_http("GET", f"{sim_url}/api/v2/routing/queues?pageSize=500", headers=auth))["entities"]
    _http("POST", f"{sim_url}/api/v2/events/subscriptions", json.dumps({
        "callbackUrl": f"{proxy_url}/api/v1/event-stream/callback",
        "topics": [observations_topic(str(q["id"])) for q in queues], "secret": secret, "batch": True,
        "retryIntervalSeconds": 1, "maxRetryAttempts": 5}).encode(),
        {**auth, "Content-Type": "application/json"})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scenarios.run", description=__doc__.split("\n")[0])
    p.add_argument("--scenario", required=True, choices=SCENARIOS)
    p.add_argument("--users", type=int, default=20, help="peak Locust users (default 20)")
    p.add_argument("--duration", type=seconds, default=30.0, help="run time: 30s, 2m ... (default 30s)")
    p.add_argument("--host", help="a running proxy's URL (default: start one)")
    p.add_argument("--secret", default=os.environ.get("QC_CALLBACK_SECRET"),
                   help="callback secret of --host (default $QC_CALLBACK_SECRET)")
    p.add_argument("--simulator", help="a running simulator's URL (default: start one when the scenario needs it)")
    p.add_argument("--trace", default=str(ROOT / "scenarios" / "traces" / "peak-wave-token-expiry.jsonl"),
                   help="replay: the trace to play")
    p.add_argument("--speed", type=float, default=10.0, help="replay: time compression (default 10)")
    p.add_argument("--results", type=Path, default=RESULTS, help="directory for the CSVs and HTML (default "
                   "scenarios/results)")
    p.add_argument("--max-clients", type=int, help="QC_MAX_CLIENTS of the started proxy (reconnect_storm: users/2)")
    args = p.parse_args(argv)
    if not LOCUST.exists():
        print(f"{LOCUST} is missing: run 'make .venv-load/.installed' (Locust lives in its own venv)",
              file=sys.stderr)
        return 2
    args.results.mkdir(parents=True, exist_ok=True)
    children: list[procs.Child] = []
    try:
        secret = args.secret or SECRET
        sim_url = args.simulator
        if sim_url is None and args.scenario in NEEDS_SIMULATOR:
            sim_args = ["--speed", "10", "--queues", "8", "--agents", "80"]
            if args.scenario == "token_expiry":
                sim_args += ["--token-ttl", "8", "--heartbeat-s", "2"]  # handovers happen on their own too
            sim = procs.start_simulator(*sim_args)
            children.append(sim)
            sim_url = sim.url
        host = args.host
        if host is None:
            max_clients = args.max_clients or (max(2, args.users // 2) if args.scenario == "reconnect_storm"
                                               else 20_000)
            extra: dict[str, str] = {}
            if args.scenario == "token_expiry" and sim_url:
                # the proxy owns a token here: it pulls over the Notifications WebSocket, so expiring tokens
                # and taking the token endpoint down exercise its handover, not just the simulator
                extra = {"QC_UPSTREAM": "notifications", "QC_API_BASE": sim_url, "QC_LOGIN_BASE": sim_url,
                         "QC_CLIENT_ID": "queuecast-demo", "QC_CLIENT_SECRET": "queuecast-demo-secret",
                         "QC_HEARTBEAT_TIMEOUT_S": "6"}
            proxy = procs.start_proxy(secret=secret, aggregate_ms=500, max_clients=max_clients, extra=extra)
            children.append(proxy)
            host = proxy.url
        if sim_url and args.scenario == "reconnect_storm":
            subscribe(sim_url, host, secret)
        env = {**os.environ, "QC_CALLBACK_SECRET": secret, "SIM_URL": sim_url or "",
               "SCENARIO_USERS": str(args.users), "SCENARIO_DURATION_S": str(args.duration),
               "TRACE": args.trace, "SPEED": str(args.speed),
               # the locustfiles import _common from scenarios/ and the standard-library bench modules
               "PYTHONPATH": os.pathsep.join((str(ROOT / "scenarios"), str(ROOT)))}
        prefix = args.results / args.scenario
        cmd = [str(LOCUST), "-f", str(ROOT / "scenarios" / f"{args.scenario}.py"), "--headless",
               "-u", str(args.users), "-r", str(max(1, args.users)), "-t", f"{int(args.duration)}s",
               "--host", host, "--csv", str(prefix), "--html", f"{prefix}.html", "--stop-timeout", "5",
               "--only-summary"]
        print("running: " + " ".join(cmd), flush=True)
        return subprocess.run(cmd, env=env, cwd=ROOT).returncode
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    raise SystemExit(main())
