"""Isolated-event latency: callback accepted → SSE frame at the client, against a bare echo.

One queue, one event at a time: the bench posts an instant message whose ``oWaiting`` is a unique
sequence number, and every listener records when the frame carrying that number arrives
(``perf_counter`` in the same process as the sender, so no clock skew). The next event goes out
only after every listener has it, plus a short pause, so each event is isolated (DESIGN 7).
The echo RTT is the same client code posting a body of similar size to :mod:`bench.echo`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec
import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, StreamClient, frame_decoder
from bench.http1 import Event
from bench.progress import say
from bench.stats import summary_ms
from bench.workload import Workload


class _Waiting(msgspec.Struct):
    waiting: int


_waiting = msgspec.json.Decoder(_Waiting)


@dataclass(eq=False)
class IsolatedResult:
    latencies_s: list[float] = field(default_factory=list)
    """Per (event, listener): send start → frame arrival."""
    first_s: list[float] = field(default_factory=list)
    """Per event: send start → arrival at the first listener."""
    callback_s: list[float] = field(default_factory=list)
    """Per event: the callback's own round trip (request written → 200 read)."""
    sent_at_s: list[float] = field(default_factory=list)
    missed: int = 0
    failed_callbacks: int = 0

    def report(self, listeners: int) -> dict[str, object]:
        return {
            "events": len(self.first_s) + self.missed, "listeners": listeners,
            "latency_ms": summary_ms(self.latencies_s), "first_listener_ms": summary_ms(self.first_s),
            "callback_rtt_ms": summary_ms(self.callback_s), "missed": self.missed,
            "failed_callbacks": self.failed_callbacks,
        }


async def isolated_latency(proxy_url: str, *, secret: str, events: int, listeners: int,
                           pause_s: float = 0.002) -> IsolatedResult:
    workload = Workload(1, prefix="iso")
    queue_id = workload.queue_ids[0]
    result = IsolatedResult()
    target = 0
    got = 0
    sent = 0.0
    done = trio.Event()
    ready = trio.Event()
    snapshots = 0

    def on_event(client: StreamClient, now: float, event: Event) -> None:
        nonlocal got, snapshots
        arrival = time.perf_counter()
        if event.event == "snapshot":
            snapshots += 1
            if snapshots == listeners:
                ready.set()
            return
        if event.event != "delta":
            return
        raw = frame_decoder.decode(event.data).queues.get(queue_id)
        if raw is None or _waiting.decode(raw).waiting != target:
            return
        result.latencies_s.append(arrival - sent)
        got += 1
        if got == 1:
            result.first_s.append(arrival - sent)
        if got == listeners:
            done.set()

    async with trio.open_nursery() as nursery:
        for _ in range(listeners):
            await nursery.start(StreamClient(proxy_url, on_event=on_event).run)
        with trio.fail_after(10):
            await ready.wait()
        poster = Poster(proxy_url, CALLBACK_PATH)
        step = max(1, events // 5)
        for k in range(1, events + 1):
            message = workload.next(queue_id, waiting=k)  # an instant message carrying oWaiting = k
            body, headers = signed_body(message.envelope(), secret)
            target, got, done = k, 0, trio.Event()
            sent = time.perf_counter()
            result.sent_at_s.append(sent)
            status, rtt = await poster.post(body, headers)
            if status != 200:
                result.failed_callbacks += 1
            result.callback_s.append(rtt)
            with trio.move_on_after(2.0):
                await done.wait()
            if not done.is_set():
                result.missed += 1
            if k % step == 0:
                say(f"  isolated: {k}/{events} events")
            await trio.sleep(pause_s)
        await poster.aclose()
        nursery.cancel_scope.cancel()
    return result


async def echo_rtt(echo_url: str, *, requests: int, body_size: int = 900) -> list[float]:
    """Sequential POST round trips to the echo server with a ~900-byte body (a guide-shape envelope's size;
    kept when the workload moved to smaller real-shaped messages, so the gate's yardstick did not move)."""
    poster = Poster(echo_url, "/echo")
    body = b'{"pad":"' + b"x" * max(0, body_size - 10) + b'"}'
    headers = {"Content-Type": "application/json"}
    out = []
    for _ in range(requests):
        status, rtt = await poster.post(body, headers)
        if status == 200:
            out.append(rtt)
        await trio.sleep(0.0005)
    await poster.aclose()
    return out
