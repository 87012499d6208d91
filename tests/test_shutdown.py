"""Graceful shutdown of a real ``queuecast proxy`` process (issue 11 §3): SIGTERM while callbacks pour in.

Every callback answered 200 is on every stream before the stream ends; each stream ends with a last
jittered ``retry:`` block and the chunked body's end; the process exits 0 within ``QC_SHUTDOWN_S``.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field

import trio

from bench import procs
from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, StreamClient, host_port
from bench.http1 import request_bytes
from bench.sustained import connect_all
from bench.workload import Workload

SECRET = "shutdown-test-secret"
SHUTDOWN_S = 6.0
RETRY_MS = 1000
QUEUES = 4


@dataclass
class Posted:
    """Per queue: the ``oWaiting`` tag of every callback sent and the status it got (0: no answer)."""

    sent: list[tuple[int, int]] = field(default_factory=list)

    @property
    def last_accepted(self) -> int:
        return max((k for k, status in self.sent if status == 200), default=0)

    def possible(self) -> set[int]:
        """What the board may show: the last accepted tag, or a later one that was applied but whose
        answer never arrived (the connection was cut), never one the proxy refused."""
        last = self.last_accepted
        return {last} | {k for k, status in self.sent if status == 0 and k > last}


async def _raw_stream(url: str, sink: bytearray) -> None:
    host, port = host_port(url)
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        await stream.send_all(request_bytes("GET", "/dashboard-stream", f"{host}:{port}",
                                            headers={"Accept": "text/event-stream"}))
        while data := await stream.receive_some(65536):
            sink += data


async def _drive(proxy: procs.Child) -> tuple[dict[str, Posted], list[StreamClient], bytes, float, int]:
    workload = Workload(QUEUES, prefix="sd")
    posted = {q: Posted() for q in workload.queue_ids}
    streams = [StreamClient(proxy.url, keep_state=True) for _ in range(3)]
    raw = bytearray()
    signalled = trio.Event()

    async def poster(queue_id: str) -> None:
        post = Poster(proxy.url, CALLBACK_PATH)
        record = posted[queue_id]
        k = 0
        refused_after_signal = 0
        try:
            while refused_after_signal < 3:
                k += 1
                body, headers = signed_body(workload.next(queue_id, waiting=k).envelope(), SECRET)
                status, _ = await post.post(body, headers, timeout_s=SHUTDOWN_S + 2)
                record.sent.append((k, status))
                if signalled.is_set() and status != 200:
                    refused_after_signal += 1
                await trio.sleep(0.005)
        finally:
            await post.aclose()

    async with trio.open_nursery() as nursery:
        await connect_all(streams, nursery)
        nursery.start_soon(_raw_stream, proxy.url, raw)
        for queue_id in workload.queue_ids:
            nursery.start_soon(poster, queue_id)
        await trio.sleep(1.0)
        proxy.popen.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        signalled.set()
        code = await trio.to_thread.run_sync(lambda: proxy.popen.wait(SHUTDOWN_S + 10))
        took_s = time.monotonic() - t0
        for _ in range(100):  # up to 5 s for the clients to read what was written before the close
            if all(s.error is not None for s in streams):
                break
            await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    return posted, streams, bytes(raw), took_s, code


def test_sigterm_delivers_every_accepted_callback_ends_each_stream_with_a_retry_and_exits_0() -> None:
    proxy = procs.start_proxy(secret=SECRET, aggregate_ms=200, extra={
        "QC_SHUTDOWN_S": str(SHUTDOWN_S), "QC_RETRY_MS": str(RETRY_MS), "QC_LOG_LEVEL": "INFO"})
    try:
        posted, streams, raw, took_s, code = trio.run(_drive, proxy)
    finally:
        proxy.stop()
    log = "\n".join(proxy.output)
    assert code == 0, log
    assert took_s < SHUTDOWN_S, f"exit took {took_s:.1f} s\n{log}"
    assert "shutting down" in log
    for queue_id, record in posted.items():
        assert record.last_accepted > 0, f"{queue_id}: nothing accepted before the signal"
        assert any(status != 200 for _, status in record.sent), f"{queue_id}: never refused after the signal"
    for stream in streams:
        assert stream.status == 200 and stream.error == "stream ended by the server", stream.error
        for queue_id, record in posted.items():
            shown = json.loads(stream.state[queue_id])
            waiting = shown["waiting"]
            assert waiting in record.possible(), (
                f"{queue_id}: board shows oWaiting={waiting}, the last accepted callback carried "
                f"{record.last_accepted} (sent: {record.sent[-5:]})")
    # the raw stream: its last event block is a jittered retry:, then the chunked body's end
    assert raw.endswith(b"0\r\n\r\n"), raw[-200:]
    retries = [int(m) for m in re.findall(rb"retry: (\d+)\n", raw)]
    assert retries[0] == RETRY_MS and len(retries) >= 2, raw[-300:]
    assert RETRY_MS <= retries[-1] <= 4 * RETRY_MS


def test_sigterm_with_nothing_in_flight_exits_0_at_once() -> None:
    proxy = procs.start_proxy(secret=SECRET, aggregate_ms=500, extra={"QC_SHUTDOWN_S": str(SHUTDOWN_S)})
    try:
        t0 = time.monotonic()
        proxy.popen.send_signal(signal.SIGTERM)
        code = proxy.popen.wait(SHUTDOWN_S + 5)
        took_s = time.monotonic() - t0
    except subprocess.TimeoutExpired:
        code, took_s = -1, float("inf")
    finally:
        proxy.stop()
    assert code == 0, "\n".join(proxy.output)
    assert took_s < 2.0
