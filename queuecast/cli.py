"""``queuecast <command>``: dispatches to the proxy, the simulator, the demo, the bench, record/replay.

Each command's module is imported only when that command runs, so the proxy and the simulator
never import each other.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable

COMMANDS = {
    "proxy": "run the proxy (settings from QC_* variables; see README)",
    "simulator": "run the fake Genesys Cloud (OAuth, Event Bus, Notifications, analytics, world)",
    "demo": "simulator + proxy + wallboard in one process, in memory",
    "bench": "end-to-end latency and throughput benchmark on loopback",
    "chaos": "every simulator fault on a seeded schedule; the board must end equal to the truth",
    "record": "record what reaches the proxy into a JSONL trace",
    "replay": "replay a JSONL trace through the callback",
    "viewer-token": "print a viewer token for a wallboard (QC_VIEWER_JWT_SECRET)",
}


def _usage() -> str:
    lines = ["usage: queuecast <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, text in COMMANDS.items()]
    lines += ["", "Run 'queuecast <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "proxy":
        return proxy_main(rest)
    if command == "simulator":
        from simulator.cli import main as simulator_main

        return int(simulator_main(rest))
    if command == "demo":
        from queuecast.demo import main as demo_main

        return int(demo_main(rest))
    if command == "bench":
        from bench.run import main as bench_main

        return int(bench_main(rest))
    if command == "chaos":
        from queuecast.chaos.run import main as chaos_main

        return int(chaos_main(rest))
    if command == "viewer-token":
        from queuecast.viewer_token import main as viewer_token_main

        return viewer_token_main(rest)
    if command in ("record", "replay"):
        import bench.trace as trace

        return int(trace.record_main(rest) if command == "record" else trace.replay_main(rest))
    print(f"queuecast: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
    return 2


def run_trio(prog: str, fn: Callable[..., Awaitable[None]], *args: object, hint: str) -> int:
    """``trio.run(fn, *args)`` for a command: Ctrl-C is a clean exit; an OS error (port in use, ...) is
    one line and exit 1; a component crash loop (the proxy's supervisor gave up) one line and exit 3."""
    import trio

    from proxy.errors import CrashLoop

    try:
        trio.run(fn, *args)
    except KeyboardInterrupt:
        return 0
    except (BaseExceptionGroup, OSError, CrashLoop) as raised:  # trio nurseries wrap what their tasks raise
        if isinstance(raised, BaseExceptionGroup) and raised.subgroup(KeyboardInterrupt) is not None:
            return 0  # a second Ctrl-C during shutdown
        crash = _first(raised, CrashLoop)
        if crash is not None:
            print(f"{prog}: stopping: {crash}", file=sys.stderr)
            return 3
        failed = _first(raised, OSError)
        if failed is None:
            raise
        print(f"{prog}: {failed} ({hint})", file=sys.stderr)
        return 1
    return 0


def _first(raised: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` in ``raised`` (itself, or the leaf of an exception group)."""
    if isinstance(raised, BaseExceptionGroup):
        found = raised.subgroup(kind)
        if found is None:
            return None
        leaf: BaseException = found
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        return leaf
    return raised if isinstance(raised, kind) else None


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from proxy.redact import install

    install()  # tokens (?access_token=, Bearer, JWTs) are masked in whatever reaches a handler


def proxy_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="queuecast proxy",
        description="Run the queuecast proxy. Every setting comes from a QC_* environment variable "
        "(listed in the README); --host/--port override QC_HOST/QC_PORT.",
    )
    parser.add_argument("--host", help="interface to bind (QC_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port, 0 for any free one (QC_PORT, default 8080)")
    parser.add_argument("--workers", type=int, default=1,
                        help="run N proxy processes on one port (SO_REUSEPORT); needs QC_REDIS_URL (docs/scale-out.md)")
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set by --workers for each
    args = parser.parse_args(argv)

    import dataclasses
    import functools

    import trio

    from proxy import gc_policy
    from proxy.errors import ConfigError
    from proxy.http.boards import load_boards
    from proxy.server import serve, wait_for_signal
    from proxy.settings import load_settings

    try:
        settings = load_settings()
        load_boards(settings.boards_file)  # a bad boards file is a configuration error, said in one line
    except ConfigError as exc:
        print(f"queuecast proxy: configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = dataclasses.replace(settings, **overrides)
    configure_logging(settings.log_level)
    if args.workers != 1:
        from proxy.cluster.workers import check_workers, run_workers

        try:
            check_workers(settings, args.workers)
        except ConfigError as exc:
            print(f"queuecast proxy: configuration error: {exc}", file=sys.stderr)
            return 2
        return run_workers(settings, args.workers)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(functools.partial(serve, settings, shutdown_trigger=wait_for_signal,
                                                        reuse_port=args.reuse_port))
            print(f"queuecast proxy listening on {url}  (wallboard: {url}/, stream: {url}/dashboard-stream)",
                  flush=True)
            gc_policy.apply()  # many connections: collect less often (proxy/gc_policy.py)

    return run_trio("queuecast proxy", run, hint=f"is {settings.host}:{settings.port} free? set QC_PORT or --port")
