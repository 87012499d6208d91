"""Sustained load: R events/s over Q queues while N SSE clients watch, then exact convergence.

- Every client keeps the newest encoded view of every queue (what it would render) and records
  publish → receipt (``arrival - asOf``) of every frame. All but the probes are held by
  :mod:`bench.state_probe` (one process on plain epoll, a few µs per frame): as 1,000 trio clients in
  this process they cost ~100 µs each per frame, all in the burst after each window, and the probes'
  receipts waited behind that burst (the harness's backlog, measured as the proxy's staleness).
- A few *probe* clients (trio, in this process) decode every view and record ``(queue, updatedAt, arrival)``, from which
  come the delivery latency (arrival − newest ``updatedAt`` in the frame) and the staleness of
  every instant sent (an instant or agent message's platform time → the first arrival of a view at
  least that new; interval messages carry no instant and move no ``updatedAt``).
- After the load stops, every client's state must equal the expected final state that
  :class:`bench.expected.ExpectedBoard` derives from what was acknowledged: exactly, for every queue.
"""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, StreamClient, frame_decoder, host_port
from bench.http1 import Event
from bench.messages import Message
from bench.peer import Lines
from bench.procs import ROOT, Child, start_proxy
from bench.progress import say
from bench.sampler import Sampler
from bench.stats import summary_ms
from bench.timefmt import parse_iso_s
from bench.workload import Workload


class _Updated(msgspec.Struct):
    updatedAt: str | None = None  # the wire name


_updated = msgspec.json.Decoder(_Updated)


@dataclass(eq=False)
class SustainedResult:
    report: dict[str, Any]
    delivery_s: list[float] = field(default_factory=list)
    delivery_at_s: list[float] = field(default_factory=list)
    staleness_s: list[float] = field(default_factory=list)


async def connect_all(clients: list[StreamClient], nursery: trio.Nursery, *, parallel: int = 64,
                      timeout_s: float = 60.0) -> None:
    """Open every client's stream, ``parallel`` handshakes at a time; returns when all have a status,
    or after ``timeout_s`` (clients still waiting are abandoned with status 0 and count as refused)."""
    limiter = trio.CapacityLimiter(parallel)

    async def one(client: StreamClient) -> None:
        async with limiter:
            await nursery.start(client.run)

    with trio.move_on_after(timeout_s):
        async with trio.open_nursery() as ramp:
            for client in clients:
                ramp.start_soon(one, client)


async def sustained(proxy: Child, *, secret: str, rate: float, queues: int, clients: int, probes: int,
                    seconds: float, batch: int, window_ms: int, queues_per_client: int = 10,
                    posters: int = 8, quiet: bool = False) -> SustainedResult:
    """Run the section. ``queues_per_client`` > 0 gives each non-probe client a ``?queues=`` filter
    (a wallboard shows one team's queues; consecutive groups of that many queues); 0 = all queues.
    ``quiet``: no progress lines (the A/B compare runs this every round)."""

    def note(text: str) -> None:
        if not quiet:
            say(text)

    workload = Workload(queues)
    groups: list[tuple[str, ...] | None] = [None]
    if queues_per_client > 0:
        ids = workload.queue_ids
        groups = [tuple(ids[i:i + queues_per_client]) for i in range(0, len(ids), queues_per_client)]
    probe_log: list[dict[str, list[tuple[int, float]]]] = [defaultdict(list) for _ in range(probes)]
    result = SustainedResult(report={})
    t_start = time.time()

    def on_probe(index: int) -> Any:
        log = probe_log[index]

        def on_event(client: StreamClient, now: float, event: Event) -> None:
            if event.event != "delta":
                return
            newest = 0
            for queue_id, raw in frame_decoder.decode(event.data).queues.items():
                updated = _updated.decode(raw).updatedAt
                if updated is None:
                    continue
                ms = round(parse_iso_s(updated) * 1000)
                log[queue_id].append((ms, now))
                newest = max(newest, ms)
            if newest:
                result.delivery_s.append(now - newest / 1000)
                result.delivery_at_s.append(now - t_start)

        return on_event

    def path(i: int) -> str:
        group = groups[i % len(groups)]
        return "/dashboard-stream" if i < probes or group is None else "/dashboard-stream?queues=" + ",".join(group)

    streams = [StreamClient(proxy.url, path(i), keep_state=True, on_event=on_probe(i)) for i in range(probes)]
    sampler = Sampler(proxy)
    failures = 0
    sent = 0
    held = clients - probes
    holder = StateHolder(proxy.url, [path(i) for i in range(probes, clients)])
    async with trio.open_nursery() as nursery, holder:
        note(f"  sustained: connecting {clients} SSE clients ({held} held by bench/state_probe.py, {probes} probes)")
        await holder.connected()
        await connect_all(streams, nursery)
        refused = sum(1 for c in streams if c.status != 200) + held - holder.count
        note(f"  sustained: {clients - refused} connected; sending {rate:.0f} events/s over {queues} queues "
            f"in batches of {batch} for {seconds:.0f}s")
        nursery.start_soon(sampler.run)
        sampler.start()
        holder_cpu0 = (await holder.dump())["cpu_s"]

        async def poster_loop(index: int) -> None:
            nonlocal failures, sent
            poster = Poster(proxy.url, CALLBACK_PATH)
            interval = posters * batch / rate
            next_at = time.perf_counter() + index * interval / posters
            end = time.perf_counter() + seconds
            try:
                while next_at < end:
                    await trio.sleep_until(trio.current_time() + max(0.0, next_at - time.perf_counter()))
                    next_at += interval
                    messages: list[Message] = [workload.next() for _ in range(batch)]
                    body, headers = signed_body([m.envelope() for m in messages], secret)
                    status, _ = await poster.post(body, headers)
                    sent += len(messages)
                    if status == 200:
                        workload.ack(messages)
                    else:
                        failures += 1
            finally:
                await poster.aclose()

        async with trio.open_nursery() as senders:
            for i in range(posters):
                senders.start_soon(poster_loop, i)
            if not quiet:
                senders.start_soon(_ticker, seconds)
        sampler.stop()
        holder_cpu_s = (await holder.dump())["cpu_s"] - holder_cpu0
        note(f"  sustained: sent {sent} events ({failures} failed callbacks); waiting for convergence")
        settle_start = time.perf_counter()
        await trio.sleep(window_ms / 1000 + 0.5)

        async def check(final: bool = False) -> tuple[int, str, dict[str, Any]]:
            dump = await holder.dump(final=final)
            held_states = [(path, {q: v.encode() for q, v in state.items()}, count)
                           for path, state, count in dump["states"]]
            ours = [(c.path, c.state, 1) for c in streams if c.status == 200]
            n, text = _check(ours + held_states, workload.expected.views(now_ms=_now_ms()))
            return n, text, dump

        converged, detail, dump = await check()
        with trio.move_on_after(15):
            while converged < clients - refused:
                await trio.sleep(0.5)  # a harness deadline, not a readiness poll: frames may still be in flight
                # asked again each time: a 30-minute boundary meanwhile rolls the intervals over
                converged, detail, dump = await check()
        settle_s = time.perf_counter() - settle_start
        converged, detail, dump = await check(final=True)
        nursery.cancel_scope.cancel()
    publish_to_receipt: list[float] = dump.get("receipts_s", [])

    for index, log in enumerate(probe_log):
        del index
        for queue_id, sent_ms in workload.sent_at.items():
            newest = workload.expected.updated_ms(queue_id)
            seen = log.get(queue_id, [])
            keys = [ms for ms, _ in seen]
            for t in sent_ms:
                if newest is None or t > newest:
                    continue
                i = bisect.bisect_left(keys, t)
                if i < len(seen):
                    result.staleness_s.append(seen[i][1] - t / 1000)
    frames = [c.frames for c in streams if c.status == 200] + dump["frames"]
    sizes = [c.nbytes for c in streams if c.status == 200] + dump["nbytes"]
    result.report = {
        "target_events_per_s": rate, "queues": queues, "clients": clients, "probes": probes, "batch": batch,
        "queues_per_client": queues_per_client or queues,
        "seconds": seconds, "window_ms": window_ms, "events_sent": sent, "failed_callbacks": failures,
        "achieved_events_per_s": round(sent / max(1e-9, sampler.report()["wall_s"]), 1),
        "refused_clients": refused,
        "delivery_latency_ms": summary_ms(result.delivery_s),
        "staleness_ms": summary_ms(result.staleness_s),
        "publish_to_receipt_ms": summary_ms(publish_to_receipt),
        "frames_per_client": {"mean": round(sum(frames) / max(1, len(frames)), 1), "min": min(frames, default=0),
                              "max": max(frames, default=0)},
        "bytes_per_client": {"mean": round(sum(sizes) / max(1, len(sizes))), "max": max(sizes, default=0)},
        "proxy_cpu_us_per_event": round(sampler.report()["proxy_cpu_s"] / max(1, sent) * 1e6, 1),
        "converged_clients": converged, "convergence": detail,
        "converged": converged == clients - refused == clients, "settle_s": round(settle_s, 2),
        **sampler.report(),
        "holder_cpu_percent": round(holder_cpu_s / max(1e-9, sampler.report()["wall_s"]) * 100, 1),
    }
    return result


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _ticker(seconds: float) -> None:
    step = max(1.0, seconds / 5)
    t = 0.0
    while t + step <= seconds:
        await trio.sleep(step)
        t += step
        say(f"  sustained: {t:.0f}/{seconds:.0f}s")


def _check(clients: list[tuple[str, dict[str, bytes], int]], expected: dict[str, dict[str, Any]]) -> tuple[int, str]:
    """How many connected clients show exactly ``expected`` (restricted to their ``?queues=`` filter),
    and a description of the first mismatch. ``clients``: (path, state, how many clients hold that state).
    Equal bytes to an already verified state count as equal."""
    verified: dict[str, dict[str, bytes]] = {}
    converged = 0
    detail = "every client equals the expected final state"
    for path, state, count in clients:
        if verified.get(path) == state:
            converged += count
            continue
        _, _, query = path.partition("?queues=")
        wanted = expected if not query else {q: v for q, v in expected.items() if q in set(query.split(","))}
        problem = _compare(state, wanted)
        if problem is None:
            verified[path] = state
            converged += count
        elif detail.startswith("every"):
            detail = f"client {path}: {problem}"
    return converged, detail


def _compare(state: dict[str, bytes], expected: dict[str, dict[str, Any]]) -> str | None:
    if set(state) != set(expected):
        missing = sorted(set(expected) - set(state))[:3]
        extra = sorted(set(state) - set(expected))[:3]
        return f"queue sets differ: missing {missing}, extra {extra}"
    for queue_id, view in expected.items():
        got = json.loads(state[queue_id])
        if got != view:
            keys = sorted(k for k in view if got.get(k) != view[k])
            return f"{queue_id}: fields differ {keys}"
    return None


class StateHolder:
    """The non-probe clients, held by :mod:`bench.state_probe` in its own process (``async with``)."""

    def __init__(self, url: str, paths: list[str], *, parallel: int = 64) -> None:
        self._url = url
        self._paths = paths
        self._parallel = parallel
        self._process: trio.Process | None = None
        self._lines: Lines | None = None
        self.count = 0

    async def __aenter__(self) -> StateHolder:
        host, port = host_port(self._url)
        self._process = await trio.lowlevel.open_process([sys.executable, "-m", "bench.state_probe"],
                                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        assert self._process.stdin is not None and self._process.stdout is not None
        self._lines = Lines(self._process.stdout)
        config = {"host": host, "port": port, "paths": self._paths, "parallel": self._parallel}
        await self._process.stdin.send_all(json.dumps(config).encode() + b"\n")
        return self

    async def connected(self) -> None:
        assert self._lines is not None
        _, count, _seconds = (await self._lines.next(timeout_s=180.0)).split()
        self.count = int(count)

    async def dump(self, *, final: bool = False) -> dict[str, Any]:
        assert self._process is not None and self._process.stdin is not None and self._lines is not None
        await self._process.stdin.send_all(b"final\n" if final else b"dump\n")
        result: dict[str, Any] = json.loads(await self._lines.next(timeout_s=60.0))
        return result

    async def __aexit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        with trio.CancelScope(shield=True):
            if process.stdin is not None:
                await process.stdin.aclose()
            with trio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def ceiling(*, secret: str, client_steps: tuple[int, ...], rates: tuple[float, ...], queues: int, probes: int,
                  seconds: float, batch: int, window_ms: int, queues_per_client: int,
                  bound_ms: float = 1000.0) -> dict[str, Any]:
    """The ceiling table (issue 16): for each client count, the event rate stepped up (a fresh proxy and a
    short sustained run each) until one is not held; held = every client exact, no failed callback or refused
    client, ≥ 95 % of the rate achieved and staleness p99 ≤ ``bound_ms``. Returns every cell and, per client
    count, the largest rate held (None: not even the first)."""
    cells: list[dict[str, Any]] = []
    largest: dict[int, float | None] = {}
    for n in client_steps:
        largest[n] = None
        for rate in rates:
            proxy = start_proxy(secret=secret, aggregate_ms=window_ms, max_clients=max(20_000, 2 * n))
            try:
                run = await sustained(proxy, secret=secret, rate=rate, queues=queues, clients=n, probes=probes,
                                      seconds=seconds, batch=batch, window_ms=window_ms,
                                      queues_per_client=queues_per_client, quiet=True)
            finally:
                proxy.stop()
            r = run.report
            p99 = r["staleness_ms"]["p99"]
            why = [text for bad, text in (
                (not r["converged"], f"converged {r['converged_clients']}/{n}"),
                (r["failed_callbacks"] > 0, f"{r['failed_callbacks']} failed callbacks"),
                (r["refused_clients"] > 0, f"{r['refused_clients']} refused"),
                (r["achieved_events_per_s"] < 0.95 * rate,
                 f"achieved {r['achieved_events_per_s']:.0f}/s (bench process CPU {r['harness_cpu_percent']} %)"),
                (not p99 <= bound_ms, f"staleness p99 {p99:.0f} ms")) if bad]
            cell = {"clients": n, "rate": rate, "held": not why, "why_not": "; ".join(why),
                    "staleness_p99_ms": p99, "achieved_events_per_s": r["achieved_events_per_s"],
                    "proxy_cpu_percent": r["proxy_cpu_percent"], "harness_cpu_percent": r["harness_cpu_percent"],
                    "converged": r["converged"]}
            cells.append(cell)
            say(f"  ceiling: {n:>6} clients {rate:>7.0f} events/s  staleness p99 {p99:.0f} ms  proxy CPU "
                f"{r['proxy_cpu_percent']} %  " + ("held" if not why else "NOT held: " + cell["why_not"]))
            if why:
                break
            largest[n] = rate
    return {"bound_ms": bound_ms, "queues": queues, "queues_per_client": queues_per_client, "seconds": seconds,
            "window_ms": window_ms, "cells": cells, "largest": {str(n): v for n, v in largest.items()}}


def ceiling_markdown(result: dict[str, Any]) -> list[str]:
    """The ceiling table for the report."""
    out = [f"## Ceiling: the largest (events/s, clients) held with staleness p99 ≤ {result['bound_ms']:.0f} ms", "",
           f"{result['queues']} queues, each client watching {result['queues_per_client']}, window "
           f"{result['window_ms']} ms, {result['seconds']} s per cell, a fresh proxy per cell; held = every client "
           "exact, no failed callback or refused client, ≥ 95 % of the rate achieved.", "",
           "| clients | largest rate held | staleness p99 there | next rate: why not |", "|---|---|---|---|"]
    for n, rate in result["largest"].items():
        cells = [c for c in result["cells"] if str(c["clients"]) == n]
        held = [c for c in cells if c["held"]]
        failed = [c for c in cells if not c["held"]]
        there = f"{held[-1]['staleness_p99_ms']:.0f} ms" if held else "—"
        next_step = f"{failed[0]['rate']:,.0f}/s: {failed[0]['why_not']}" if failed else "all steps held"
        out.append(f"| {int(n):,} | {f'{rate:,.0f} events/s' if rate else 'none'} | {there} | {next_step} |")
    return [*out, ""]
