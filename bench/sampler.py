"""Samples a child's CPU and RSS (and the harness's own CPU) while a section runs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import psutil  # type: ignore[import-untyped]  # no stubs in .venv (types-psutil)
import trio

from bench.procs import Child


@dataclass(eq=False)
class Sampler:
    """``async with trio.open_nursery() as n: n.start_soon(sampler.run)``; read the figures afterwards."""

    child: Child
    interval_s: float = 0.25
    rss: list[tuple[float, int]] = field(default_factory=list)
    _t0: float = 0.0
    _cpu0: float = 0.0
    _self0: float = 0.0
    _t1: float = 0.0
    _cpu1: float = 0.0
    _self1: float = 0.0

    def start(self) -> None:
        me = psutil.Process(os.getpid()).cpu_times()
        self._t0, self._cpu0, self._self0 = time.perf_counter(), self.child.cpu_seconds(), me.user + me.system

    def stop(self) -> None:
        me = psutil.Process(os.getpid()).cpu_times()
        self._t1, self._cpu1, self._self1 = time.perf_counter(), self.child.cpu_seconds(), me.user + me.system

    async def run(self) -> None:
        while True:
            self.rss.append((time.perf_counter(), self.child.rss_bytes()))
            await trio.sleep(self.interval_s)

    def report(self) -> dict[str, float]:
        wall = max(1e-9, self._t1 - self._t0)
        peak = max((r for _, r in self.rss), default=0)
        return {
            "wall_s": round(wall, 2),
            "proxy_cpu_percent": round((self._cpu1 - self._cpu0) / wall * 100, 1),
            "proxy_cpu_s": round(self._cpu1 - self._cpu0, 2),
            "proxy_rss_peak_mb": round(peak / 2**20, 1),
            "harness_cpu_percent": round((self._self1 - self._self0) / wall * 100, 1),
        }
