"""Fan-out ceiling: how many SSE clients one proxy holds while delivering ~2 frames/s to each.

A ticker posts one small event every 100 ms, so with the default 500 ms window the proxy publishes
two small frames per second. Clients are added in steps; after each step the bench holds for a
few seconds and checks that every client received (nearly) every frame published meanwhile, with
publish → receipt p99 under a bound. Memory per connection is the proxy's RSS growth over the
number of clients (RSS before the first client is the base).
"""

from __future__ import annotations

import time
from typing import Any

import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, StreamClient
from bench.http1 import Event
from bench.procs import Child
from bench.progress import say
from bench.stats import summary_ms
from bench.sustained import connect_all
from bench.timefmt import parse_iso_s
from bench.workload import Workload


async def fanout(proxy: Child, *, secret: str, steps: tuple[int, ...], hold_s: float, bound_ms: float,
                 min_share: float = 0.9, connect_timeout_s: float = 30.0) -> dict[str, Any]:
    workload = Workload(4, prefix="fan")
    latencies: list[float] = []
    recording = False

    def on_event(client: StreamClient, now: float, event: Event) -> None:
        if recording and event.event == "delta":
            i = event.data.find(b'"asOf":"')
            if i >= 0:
                latencies.append(now - parse_iso_s(event.data[i + 8: event.data.index(b'"', i + 8)].decode()))

    async def ticker() -> None:
        poster = Poster(proxy.url, CALLBACK_PATH)
        k = 0
        try:
            while True:
                message = workload.next(workload.queue_ids[k % 4])
                k += 1
                body, headers = signed_body(message.envelope(), secret)
                await poster.post(body, headers)
                await trio.sleep(0.1)
        finally:
            await poster.aclose()

    clients: list[StreamClient] = []
    results: list[dict[str, Any]] = []
    base_rss = proxy.rss_bytes()
    async with trio.open_nursery() as nursery:
        probe = StreamClient(proxy.url)
        await nursery.start(probe.run)
        nursery.start_soon(ticker)
        for target in steps:
            new = [StreamClient(proxy.url, on_event=on_event) for _ in range(target - len(clients))]
            t0 = time.perf_counter()
            await connect_all(new, nursery, parallel=128, timeout_s=connect_timeout_s)
            clients += new
            connect_s = time.perf_counter() - t0
            await trio.sleep(1.0)  # let the connection burst's backlog of frames drain before measuring
            before = [c.frames for c in clients]
            probe_before = probe.frames
            latencies.clear()
            recording = True
            await trio.sleep(hold_s)
            recording = False
            published = probe.frames - probe_before
            got = [c.frames - b for c, b in zip(clients, before, strict=True)]
            ok = [c for c in clients if c.status == 200 and c.error is None]
            refused = sum(1 for c in clients if c.status != 200)
            dropped = sum(1 for c in clients if c.status == 200 and c.error is not None)
            lat = summary_ms(latencies)
            rss = proxy.rss_bytes()
            # one frame of slack: a frame in flight at either edge of the hold is counted by one side only
            lagging = sum(1 for g, c in zip(got, clients, strict=True) if c in ok and g < min_share * published - 1)
            held = refused == 0 and dropped == 0 and lagging == 0 and published > 0 and lat["p99"] <= bound_ms
            step = {
                "clients": target, "connected": len(ok), "refused": refused, "dropped": dropped,
                "connect_s": round(connect_s, 2), "frames_published": published,
                "frames_per_client_per_s": round(sum(got) / max(1, len(got)) / hold_s, 2),
                "clients_lagging": lagging, "publish_to_receipt_ms": lat,
                "proxy_rss_mb": round(rss / 2**20, 1),
                "rss_per_client_kb": round((rss - base_rss) / max(1, target) / 1024, 2), "held": held,
            }
            results.append(step)
            say(f"  fan-out: {target:>6} clients  {step['frames_per_client_per_s']} frames/s each  "
                f"p99 {lat['p99']:.0f} ms  RSS {step['proxy_rss_mb']} MB ({step['rss_per_client_kb']} KB/client)"
                f"  {'held' if held else 'NOT held'}")
            if not held:
                break
        nursery.cancel_scope.cancel()
    best = max((s for s in results if s["held"]), key=lambda s: s["clients"], default=None)
    return {
        "bound_p99_ms": bound_ms, "hold_s": hold_s, "base_rss_mb": round(base_rss / 2**20, 1),
        "max_clients_held": best["clients"] if best else 0,
        "rss_per_client_kb": best["rss_per_client_kb"] if best else None,
        "steps": results,
    }


async def cpu_per_client_frame(proxy: Child, *, secret: str, clients: int, frames: int,
                               spacing_s: float = 0.02, drain_timeout_s: float = 30.0) -> float:
    """Server CPU per delivered client-frame (µs): ``clients`` streams, ``frames`` single-event
    callbacks ``spacing_s`` apart (``QC_AGGREGATE_MS=0``: one frame each), proxy CPU from the first
    callback until every client holds every frame, divided by ``clients × frames``. The callbacks'
    own cost is in the numerator; with hundreds of clients it is a small share of it."""
    workload = Workload(4, prefix="fcpu")
    delivered = 0
    recording = False
    all_in = trio.Event()

    def on_event(client: StreamClient, now: float, event: Event) -> None:
        nonlocal delivered
        if recording and event.event == "delta":
            delivered += 1
            if delivered >= clients * frames:
                all_in.set()

    streams = [StreamClient(proxy.url, on_event=on_event) for _ in range(clients)]
    async with trio.open_nursery() as nursery:
        await connect_all(streams, nursery, parallel=64)
        await trio.sleep(0.3)  # the connection burst's snapshots are out before the CPU clock starts
        recording = True
        poster = Poster(proxy.url, CALLBACK_PATH)
        cpu0 = proxy.cpu_seconds()
        try:
            for k in range(frames):
                body, headers = signed_body(workload.next(workload.queue_ids[k % 4]).envelope(), secret)
                await poster.post(body, headers)
                await trio.sleep(spacing_s)
        finally:
            await poster.aclose()
        with trio.move_on_after(drain_timeout_s):
            await all_in.wait()
        cpu = proxy.cpu_seconds() - cpu0
        nursery.cancel_scope.cancel()
    return cpu / max(1, delivered) * 1e6
