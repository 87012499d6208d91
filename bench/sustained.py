"""Sustained load: R events/s over Q queues while N SSE clients watch, then exact convergence.

- Every client keeps the newest encoded view of every queue (what it would render) and records
  publish → receipt (``arrival - asOf``) of every frame.
- A few *probe* clients decode every view and record ``(queue, updatedAt, arrival)``, from which
  come the delivery latency (arrival − newest ``updatedAt`` in the frame) and the staleness of
  every instant sent (an instant or agent message's platform time → the first arrival of a view at
  least that new; interval messages carry no instant and move no ``updatedAt``).
- After the load stops, every client's state must equal the expected final state that
  :class:`bench.expected.ExpectedBoard` derives from what was acknowledged: exactly, for every queue.
"""

from __future__ import annotations

import bisect
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, StreamClient, frame_decoder
from bench.http1 import Event
from bench.messages import Message
from bench.procs import Child
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
    publish_to_receipt: list[float] = []
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

    def on_frame(client: StreamClient, now: float, event: Event) -> None:
        if event.event == "delta":
            as_of = event.data.find(b'"asOf":"')
            if as_of >= 0:
                text = event.data[as_of + 8: event.data.index(b'"', as_of + 8)].decode()
                publish_to_receipt.append(now - parse_iso_s(text))

    def path(i: int) -> str:
        group = groups[i % len(groups)]
        return "/dashboard-stream" if i < probes or group is None else "/dashboard-stream?queues=" + ",".join(group)

    streams = [StreamClient(proxy.url, path(i), keep_state=True, on_event=on_probe(i) if i < probes else on_frame)
               for i in range(clients)]
    sampler = Sampler(proxy)
    failures = 0
    sent = 0
    async with trio.open_nursery() as nursery:
        note(f"  sustained: connecting {clients} SSE clients")
        await connect_all(streams, nursery)
        refused = sum(1 for c in streams if c.status != 200)
        note(f"  sustained: {clients - refused} connected; sending {rate:.0f} events/s over {queues} queues "
            f"in batches of {batch} for {seconds:.0f}s")
        nursery.start_soon(sampler.run)
        sampler.start()

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
        note(f"  sustained: sent {sent} events ({failures} failed callbacks); waiting for convergence")
        settle_start = time.perf_counter()
        await trio.sleep(window_ms / 1000 + 0.5)
        converged, detail = _check(streams, workload.expected.views(now_ms=_now_ms()))
        with trio.move_on_after(15):
            while converged < clients - refused:
                await trio.sleep(0.5)  # a harness deadline, not a readiness poll: frames may still be in flight
                # asked again each time: a 30-minute boundary meanwhile rolls the intervals over
                converged, detail = _check(streams, workload.expected.views(now_ms=_now_ms()))
        settle_s = time.perf_counter() - settle_start
        nursery.cancel_scope.cancel()

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
    frames = [c.frames for c in streams if c.status == 200]
    sizes = [c.nbytes for c in streams if c.status == 200]
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


def _check(streams: list[StreamClient], expected: dict[str, dict[str, Any]]) -> tuple[int, str]:
    """How many connected clients show exactly ``expected`` (restricted to their ``?queues=`` filter),
    and a description of the first mismatch. Equal bytes to an already verified state count as equal."""
    verified: dict[str, dict[str, bytes]] = {}
    converged = 0
    detail = "every client equals the expected final state"
    for client in streams:
        if client.status != 200:
            continue
        state = client.state
        if verified.get(client.path) == state:
            converged += 1
            continue
        _, _, query = client.path.partition("?queues=")
        wanted = expected if not query else {q: v for q, v in expected.items() if q in set(query.split(","))}
        problem = _compare(state, wanted)
        if problem is None:
            verified[client.path] = state
            converged += 1
        elif detail.startswith("every"):
            detail = f"client {client.path}: {problem}"
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
