"""Ingest ceiling: callbacks/s (single events) and events/s (batches) with p99 latency under a bound.

Closed loop: ``concurrency`` keep-alive connections each post back to back for ``step_s``; the
concurrency doubles step by step until the p99 callback latency passes the bound (DESIGN 7:
50 ms). The ceiling is the best rate of a step that stayed within it. The same loop against the
bare echo server gives the yardstick for the regression gate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster
from bench.messages import Message
from bench.procs import Child
from bench.progress import say
from bench.stats import percentile, summary_ms
from bench.workload import Workload

#: Returns ``(body, headers, messages)`` for the next request.
MakeBody = Callable[[], tuple[bytes, dict[str, str], list[Message]]]


@dataclass(slots=True)
class Step:
    concurrency: int
    requests: int
    events: int
    failures: int
    seconds: float
    latencies_s: list[float]
    cpu_s: float
    batch: int = 1

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def events_rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(sorted(self.latencies_s), 99) * 1000

    def report(self) -> dict[str, object]:
        return {"concurrency": self.concurrency, "batch": self.batch, "requests_per_s": round(self.rate, 1),
                "events_per_s": round(self.events_rate, 1), "failures": self.failures,
                "latency_ms": summary_ms(self.latencies_s),
                "server_cpu_us_per_request": round(self.cpu_s / max(1, self.requests) * 1e6, 1),
                "server_cpu_us_per_event": round(self.cpu_s / max(1, self.events) * 1e6, 1)}


async def closed_loop(url: str, path: str, make_body: MakeBody, *, concurrency: int, seconds: float,
                      server: Child | None = None, on_ack: Callable[[list[Message]], None] | None = None,
                      ) -> Step:
    latencies: list[float] = []
    counts = {"requests": 0, "events": 0, "failures": 0}
    cpu0 = server.cpu_seconds() if server else 0.0

    async def worker(deadline: float) -> None:
        poster = Poster(url, path)
        try:
            while time.perf_counter() < deadline:
                body, headers, messages = make_body()
                status, rtt = await poster.post(body, headers)
                if status == 200:
                    latencies.append(rtt)
                    counts["requests"] += 1
                    counts["events"] += max(1, len(messages))
                    if on_ack is not None:
                        on_ack(messages)
                else:
                    counts["failures"] += 1
        finally:
            await poster.aclose()

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker, start + seconds)
    elapsed = time.perf_counter() - start
    cpu = (server.cpu_seconds() - cpu0) if server else 0.0
    return Step(concurrency, counts["requests"], counts["events"], counts["failures"], elapsed, latencies, cpu)


def callback_bodies(workload: Workload, secret: str) -> Callable[[int], MakeBody]:
    """``bodies(batch)``: signed callbacks of ``batch`` envelopes (a bare envelope when 1)."""
    return lambda batch: _callback_bodies(workload, secret, batch)


def _callback_bodies(workload: Workload, secret: str, batch: int) -> MakeBody:
    def make() -> tuple[bytes, dict[str, str], list[Message]]:
        messages = [workload.next() for _ in range(batch)]
        envelopes = [m.envelope() for m in messages]
        body, headers = signed_body(envelopes[0] if batch == 1 else envelopes, secret)
        return body, headers, messages

    return make


def echo_bodies(size: int = 900) -> MakeBody:
    body = b'{"pad":"' + b"x" * max(0, size - 10) + b'"}'
    headers = {"Content-Type": "application/json"}
    return lambda: (body, headers, [])


async def ceiling(url: str, bodies: Callable[[int], MakeBody], *, label: str, steps: tuple[tuple[int, int], ...],
                  step_s: float, bound_ms: float, server: Child | None, events: bool = False,
                  on_ack: Callable[[list[Message]], None] | None = None) -> dict[str, object]:
    """Run ``(concurrency, batch)`` steps in order, stopping after two consecutive steps whose p99 passes
    ``bound_ms`` (one noisy step does not end the search); the ceiling is the best rate among steps
    within the bound and without failures."""
    results: list[Step] = []
    for concurrency, batch in steps:
        step = await closed_loop(url, CALLBACK_PATH, bodies(batch), concurrency=concurrency, seconds=step_s,
                                 server=server, on_ack=on_ack)
        step.batch = batch
        results.append(step)
        rate = step.events_rate if events else step.rate
        say(f"  {label}: concurrency {concurrency:>3} batch {batch:>3}: {rate:8.0f}/s  p99 {step.p99_ms:6.1f} ms"
            f"  failures {step.failures}")
        over = [s.p99_ms > bound_ms or math.isnan(s.p99_ms) for s in results[-2:]]
        if len(over) == 2 and all(over):
            break
    within = [s for s in results if s.p99_ms <= bound_ms and s.failures == 0]
    best = max(within, key=lambda s: s.events_rate if events else s.rate, default=None)
    return {
        "bound_p99_ms": bound_ms,
        "ceiling_per_s": round((best.events_rate if events else best.rate), 1) if best else 0.0,
        "at_concurrency": best.concurrency if best else None,
        "at_batch": best.batch if best else None,
        "server_cpu_us_per_request": round(best.cpu_s / max(1, best.requests) * 1e6, 1) if best else None,
        # CPU per event over every step: far less sensitive to a noisy machine than wall-clock rates
        "server_cpu_us_per_event": round(sum(s.cpu_s for s in results) / max(1, sum(s.events for s in results))
                                         * 1e6, 1),
        "steps": [s.report() for s in results],
    }


async def echo_throughput(echo: Child, *, concurrency: int, seconds: float) -> Step:
    return await closed_loop(echo.url, "/echo", echo_bodies(), concurrency=concurrency, seconds=seconds,
                             server=echo)
