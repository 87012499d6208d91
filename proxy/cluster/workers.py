"""``queuecast proxy --workers N``: N proxy processes on one port (``SO_REUSEPORT``), one Redis cluster.

Each worker is a whole ``queuecast proxy`` (its own SSE clients, its own trio loop, its own core); the
kernel spreads new connections over them. They share state only through Redis, so ``QC_REDIS_URL`` is
required. This parent only starts them, restarts one that dies (after a second), and passes SIGTERM /
SIGINT on; with port 0 it picks the port (held by an idle socket of its own so no one else takes it).
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from proxy.errors import ConfigError
from proxy.settings import Settings

log = logging.getLogger("queuecast.workers")

#: A worker that dies is restarted after this long; one that keeps dying within a minute 5 times stops all.
RESTART_DELAY_S = 1.0
MAX_RESTARTS_PER_MINUTE = 5


def check_workers(settings: Settings, workers: int) -> None:
    """Raises :class:`ConfigError` when ``--workers`` cannot run with these settings."""
    if workers < 1:
        raise ConfigError("--workers", "must be at least 1")
    if workers > 1 and settings.redis_url is None:
        raise ConfigError("QC_REDIS_URL", f"--workers {workers} needs QC_REDIS_URL: the workers share the "
                          "upstream, the frames and the callbacks through Redis (docs/scale-out.md)")


def reserve_port(host: str, port: int) -> tuple[int, socket.socket]:
    """Bind (without listening) a ``SO_REUSEPORT`` socket on ``host:port``; port 0 picks one. The
    workers bind the same port beside it; it accepts nothing itself."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock.getsockname()[1], sock


def worker_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "queuecast", "proxy", "--host", host, "--port", str(port), "--reuse-port"]


def run_workers(settings: Settings, workers: int, *, argv_prefix: Sequence[str] | None = None) -> int:
    """Run ``workers`` processes until SIGTERM/SIGINT; returns the exit code."""
    port, holder = reserve_port(settings.host, settings.port)
    command = list(argv_prefix) if argv_prefix else worker_command(settings.host, port)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs: list[subprocess.Popen[bytes]] = [subprocess.Popen(command) for _ in range(workers)]
    print(f"queuecast proxy: {workers} workers on http://{settings.host}:{port} "
          f"(pids {', '.join(str(p.pid) for p in procs)})", flush=True)
    deaths: list[float] = []
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, proc in enumerate(procs):
                rc = proc.poll()
                if rc is None or stopping:
                    continue
                now = time.monotonic()
                deaths = [t for t in deaths if t > now - 60] + [now]
                if len(deaths) >= MAX_RESTARTS_PER_MINUTE:
                    print(f"queuecast proxy: stopping: workers died {len(deaths)} times in 60 s (last exit {rc})",
                          file=sys.stderr)
                    stopping, code = True, 3
                    break
                log.warning("worker %d (pid %d) exited with %s: restarting it in %.0f s", i, proc.pid, rc,
                            RESTART_DELAY_S)
                time.sleep(RESTART_DELAY_S)
                procs[i] = subprocess.Popen(command)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        holder.close()
    return code
