"""``queuecast simulator``: run the fake Genesys Cloud until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import fields

import trio

from .server import serve
from .settings import AGENT_METRICS, MESSAGE_SHAPES, ROUTING_STATUS_MODES, SimSettings

_DEFAULTS = SimSettings()


def build_parser() -> argparse.ArgumentParser:
    d = _DEFAULTS
    p = argparse.ArgumentParser(
        prog="queuecast simulator",
        description="A fake Genesys Cloud (OAuth, Event Bus, Notifications, Analytics) with a contact-center "
        "world and fault injection. The default credentials are for demos only.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default=d.host, help="interface to bind")
    p.add_argument("--port", type=int, default=d.port, help="TCP port (0 = a free port)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the world (same seed, same world)")
    p.add_argument("--speed", type=float, default=d.speed, help="simulated seconds per real second")
    p.add_argument("--queues", type=int, default=d.queues, help="number of queues")
    p.add_argument("--agents", type=int, default=d.agents, help="number of agents")
    p.add_argument("--client-id", default=d.client_id, help="OAuth client id accepted by /oauth/token")
    p.add_argument("--client-secret", default=d.client_secret, help="OAuth client secret (demo default)")
    p.add_argument("--token-ttl", type=int, default=d.token_ttl_s, help="token lifetime in seconds (expires_in)")
    p.add_argument(
        "--rate-limit", type=int, default=d.rate_limit_per_min, help="Platform API requests per minute per token"
    )
    p.add_argument("--heartbeat-s", type=float, default=d.heartbeat_s, help="WebSocket heartbeat interval (s)")
    p.add_argument(
        "--callback-secret",
        default=d.callback_secret,
        help="default HMAC secret signing Event Bus deliveries (demo default)",
    )
    p.add_argument(
        "--arrivals-per-min",
        type=float,
        default=d.arrivals_per_min,
        help="base arrivals per queue per simulated minute, before the day curve and waves",
    )
    p.add_argument(
        "--socket-closing-grace-s",
        type=float,
        default=d.socket_closing_grace_s,
        help="simulated seconds between socket_closing and the close",
    )
    p.add_argument(
        "--notify-throttle-by",
        choices=("topic", "group"),
        default=d.notify_throttle_by,
        help="throttle Notifications per topic, or per topic and group",
    )
    p.add_argument("--start-at-ms", type=int, default=None, help="simulated epoch ms at start (default: now)")
    p.add_argument(
        "--message-shape",
        choices=MESSAGE_SHAPES,
        default=d.message_shape,
        help="observations messages as the real platform sends them (instant changes and interval figures "
        "apart) or the legacy whole-state bodies",
    )
    p.add_argument(
        "--routing-status-mode",
        choices=ROUTING_STATUS_MODES,
        default=d.routing_status_mode,
        help="real shape: agent-count messages list every status (whole) or only the changed ones",
    )
    p.add_argument(
        "--agent-metric",
        choices=AGENT_METRICS,
        default=d.agent_metric,
        help="real shape: the metric carrying agent counts (oOnQueueUsers: OFF_QUEUE as oOffQueueUsers)",
    )
    p.add_argument(
        "--interval-message-s",
        type=float,
        default=d.interval_message_s,
        help="real shape: simulated seconds between interval messages of one (queue, mediaType)",
    )
    return p


def settings_from_args(args: argparse.Namespace) -> SimSettings:
    """Map parsed flags onto ``SimSettings`` (raises ``ValueError`` for invalid values)."""
    values = {
        "host": args.host,
        "port": args.port,
        "seed": args.seed,
        "speed": args.speed,
        "queues": args.queues,
        "agents": args.agents,
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "token_ttl_s": args.token_ttl,
        "rate_limit_per_min": args.rate_limit,
        "heartbeat_s": args.heartbeat_s,
        "callback_secret": args.callback_secret,
        "arrivals_per_min": args.arrivals_per_min,
        "socket_closing_grace_s": args.socket_closing_grace_s,
        "notify_throttle_by": args.notify_throttle_by,
        "start_at_ms": args.start_at_ms,
        "message_shape": args.message_shape,
        "routing_status_mode": args.routing_status_mode,
        "agent_metric": args.agent_metric,
        "interval_message_s": args.interval_message_s,
    }
    assert set(values) <= {f.name for f in fields(SimSettings)}
    return SimSettings(**values)


async def _run(settings: SimSettings) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve, settings)
            print(f"queuecast simulator listening on {url} (client id {settings.client_id})", flush=True)
            async for _ in signals:
                break
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 on Ctrl-C/SIGTERM, 2 on bad flags)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    trio.run(_run, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
