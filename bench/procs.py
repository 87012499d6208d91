"""Child processes the bench and the scenarios start: the proxy, the echo server, the simulator.

Each runs in its own process (so its CPU and RSS are its own, and it shares no event loop with the
clients), binds port 0 and prints its URL on the first line of stdout, which :func:`start` waits for.
The children get a raised ``RLIMIT_NOFILE`` so 10,000 streams fit.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in .venv (types-psutil)

ROOT = Path(__file__).resolve().parent.parent
_URL = re.compile(r"https?://[0-9A-Za-z.\-\[\]:]+")


class StartError(RuntimeError):
    """A child did not print its URL in time (its output is in the message)."""


def raise_nofile(want: int = 65536) -> int:
    """Raise this process's open-file limit towards ``want`` (capped by the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(eq=False)
class Child:
    """A running child: its URL, its ``Popen``, and a psutil handle for CPU and RSS."""

    name: str
    url: str
    popen: subprocess.Popen[bytes]
    ps: psutil.Process
    output: list[str] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss_bytes(self) -> int:
        return int(self.ps.memory_info().rss)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``. Safe to call twice."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, argv: list[str], *, env: dict[str, str] | None = None, timeout_s: float = 30.0,
          cwd: Path = ROOT) -> Child:
    """Start ``argv`` in ``cwd`` and wait until it prints a URL. Raises :class:`StartError` on exit or timeout."""
    raise_nofile()  # inherited by the child
    full_env = {**os.environ, **(env or {})}
    popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
    assert popen.stdout is not None
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # keeps the pipe drained for the child's whole life
        assert popen.stdout is not None
        for raw in popen.stdout:
            line = raw.decode(errors="replace").rstrip()
            if len(lines) < 200:
                lines.append(line)
            if not found and (m := _URL.search(line)):
                found.append(m.group(0))
                ready.set()
        ready.set()

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready.wait(0.05):
        if time.monotonic() > deadline:
            break
    if not found:
        popen.kill()
        popen.wait()
        raise StartError(f"{name} did not start: {' '.join(argv)}\n" + "\n".join(lines[-30:]))
    return Child(name, found[0], popen, psutil.Process(popen.pid), lines)


def queuecast_argv(*args: str) -> list[str]:
    """``python -m queuecast ARGS`` with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "queuecast", *args]


def start_proxy(*, secret: str, aggregate_ms: int, max_clients: int = 20_000, extra: dict[str, str] | None = None,
                command: list[str] | None = None, cwd: Path = ROOT) -> Child:
    """The proxy with ``QC_*`` settings. ``command`` (default: ``python -m queuecast`` of this tree) and
    ``cwd`` let ``bench --compare`` start another commit's ``<venv>/bin/queuecast`` from its worktree."""
    env = {"QC_CALLBACK_SECRET": secret, "QC_AGGREGATE_MS": str(aggregate_ms), "QC_MAX_CLIENTS": str(max_clients),
           "QC_LOG_LEVEL": "WARNING", "QC_PORT": "0", "QC_HOST": "127.0.0.1",
           "QC_CONNECT_RATE": "0",  # the bench measures capacity: no admission pacing unless a section asks
           **(extra or {})}
    argv = [*command, "proxy", "--port", "0"] if command else queuecast_argv("proxy", "--port", "0")
    return start("proxy", argv, env=env, cwd=cwd)


def start_echo() -> Child:
    return start("echo", [sys.executable, "-m", "bench.echo", "--port", "0"])


def start_simulator(*args: str) -> Child:
    return start("simulator", queuecast_argv("simulator", "--port", "0", *args))
