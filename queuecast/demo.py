"""``queuecast demo``: the simulator, the proxy and the wallboard in one process, in memory.

The proxy runs in ``eventbus`` mode against the simulator, as it would against a platform: it gets
an OAuth token, provisions its own Event Bus subscription, backfills the current state over REST
(so every queue is on the board at once), and then takes the signed callbacks the simulator pushes
over loopback HTTP. The browser opens the wallboard the proxy serves.
"""

from __future__ import annotations

import argparse
import functools

import trio

from proxy.server import serve as serve_proxy
from proxy.server import wait_for_signal
from proxy.settings import Secret, Settings
from queuecast.cli import configure_logging, run_trio
from simulator.server import serve as serve_simulator
from simulator.settings import SimSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="queuecast demo",
        description="Run the simulator and the proxy together and print the wallboard URL. Ctrl-C stops both.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface for both servers (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080,
                        help="proxy/wallboard port (default 8080; the proxy registers it as its callback)")
    parser.add_argument("--sim-port", type=int, default=0, help="simulator port (default: any free port)")
    parser.add_argument("--seed", type=int, default=1, help="world seed (default 1)")
    parser.add_argument("--queues", type=int, default=6, help="number of queues (default 6)")
    parser.add_argument("--agents", type=int, default=60, help="number of agents (default 60)")
    parser.add_argument("--arrivals-per-min", type=float, default=90.0,
                        help="base arrivals per queue per minute (default 90)")
    parser.add_argument("--aggregate-ms", type=int, default=500, help="proxy aggregation window (default 500)")
    return parser


async def run_demo(args: argparse.Namespace) -> None:
    callback_secret = "queuecast-demo-callback-secret"
    sim_settings = SimSettings(
        host=args.host, port=args.sim_port, seed=args.seed, queues=args.queues, agents=args.agents,
        arrivals_per_min=args.arrivals_per_min, callback_secret=callback_secret,
    )
    async with trio.open_nursery() as nursery:
        sim_url = await nursery.start(functools.partial(serve_simulator, sim_settings))
        stop = trio.Event()
        proxy_settings = Settings(
            host=args.host, port=args.port, demo=True, callback_secret=Secret(callback_secret),
            aggregate_ms=args.aggregate_ms, cors_origins=("*",), stale_after_s=30.0,
            upstream="eventbus", api_base=sim_url, login_base=sim_url, client_id=sim_settings.client_id,
            client_secret=Secret(sim_settings.client_secret), public_url=f"http://{args.host}:{args.port}",
            eventbus_cleanup=True,
        )
        proxy_done = trio.Event()

        async def run_proxy(task_status: trio.TaskStatus[str]) -> None:
            try:
                await serve_proxy(proxy_settings, shutdown_trigger=stop.wait, task_status=task_status)
            finally:
                proxy_done.set()

        proxy_url = await nursery.start(run_proxy)
        print(f"queuecast demo: simulator on {sim_url} (truth: {sim_url}/sim/truth)", flush=True)
        print(f"queuecast demo: wallboard on {proxy_url}/   (stream: {proxy_url}/dashboard-stream)", flush=True)
        print("queuecast demo: start a wave with "
              f"curl -XPOST {sim_url}/sim/waves -H 'Content-Type: application/json' "
              "-d '{\"ratePerMin\": 600, \"durationS\": 60}'   — Ctrl-C to stop", flush=True)
        await wait_for_signal()
        print("queuecast demo: stopping (the proxy deletes its subscription first)", flush=True)
        stop.set()  # the proxy shuts down first, while the simulator can still answer its cleanup
        with trio.move_on_after(10):
            await proxy_done.wait()
        nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.port == 0:
        parser.error("--port must be a fixed port: the proxy registers http://HOST:PORT as its callback")
    configure_logging("WARNING")
    return run_trio("queuecast demo", run_demo, args, hint=f"is port {args.port} in use? try --port")
