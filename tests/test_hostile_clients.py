"""Hostile clients against a real ``queuecast proxy`` process (issue 11 §2).

A crowd of slowloris sockets (request heads and callback bodies a byte at a time), a thousand stream
clients that stop reading, a reconnect storm: the proxy cuts them by its own deadlines, its memory stays
bounded, and a normal callback and a normal stream client keep being served.
"""

from __future__ import annotations

import os
import re
import socket
import time

import psutil
import trio

from bench import procs
from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, StreamClient, host_port
from bench.http1 import Event
from bench.sustained import connect_all
from bench.workload import Workload

SECRET = "hostile-test-secret"


def _metric(proxy: procs.Child, name: str, labels: str = "") -> float:
    import httpx

    text = httpx.get(proxy.url + "/metrics", timeout=10).text
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


async def _closed_by_server(stream: trio.SocketStream, within_s: float) -> bytes | None:
    """What the server wrote before closing, or None when it is still open after ``within_s``."""
    got = b""
    with trio.move_on_after(within_s):
        try:
            while data := await stream.receive_some(65536):
                got += data
        except trio.BrokenResourceError:
            pass
        return got
    return None


async def _slowloris(url: str, kind: str, results: list[bytes | None], period_s: float, cut_within_s: float) -> None:
    host, port = host_port(url)
    stream = await trio.open_tcp_stream(host, port)
    if kind == "head":
        await stream.send_all(b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n")
        tail = b"X-Slow: " + b"a" * 1000
    else:
        await stream.send_all(b"POST " + CALLBACK_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        tail = b"[" * 1000

    async def trickle() -> None:
        for byte in tail:
            await trio.sleep(period_s)
            try:
                await stream.send_all(bytes([byte]))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trickle)
        results.append(await _closed_by_server(stream, cut_within_s))
        nursery.cancel_scope.cancel()
    await stream.aclose()


def test_a_slowloris_crowd_is_cut_by_deadline_while_a_normal_callback_and_stream_are_served() -> None:
    proxy = procs.start_proxy(secret=SECRET, aggregate_ms=0, extra={
        "QC_HEAD_TIMEOUT_S": "3", "QC_BODY_TIMEOUT_S": "3"})
    crowd = 150  # per kind: heads and bodies
    heads: list[bytes | None] = []
    bodies: list[bytes | None] = []
    got: list[int] = []
    statuses: list[int] = []

    async def main() -> None:
        workload = Workload(1, prefix="sl")
        queue_id = workload.queue_ids[0]

        def on_event(client: StreamClient, now: float, event: Event) -> None:
            if event.event == "delta":
                got.append(1)

        normal = StreamClient(proxy.url, on_event=on_event)
        async with trio.open_nursery() as nursery:
            for _ in range(crowd):
                nursery.start_soon(_slowloris, proxy.url, "head", heads, 0.5, 8)
                nursery.start_soon(_slowloris, proxy.url, "body", bodies, 0.5, 8)
            await trio.sleep(1.0)  # the crowd is in, trickling
            await nursery.start(normal.run)
            poster = Poster(proxy.url, CALLBACK_PATH)
            for k in range(20):
                body, headers = signed_body(workload.next(queue_id, waiting=k + 1).envelope(), SECRET)
                status, _ = await poster.post(body, headers, timeout_s=5)
                statuses.append(status)
                await trio.sleep(0.05)
            await poster.aclose()
            for _ in range(40):  # up to 2 s for the last delta
                if len(got) >= 20:
                    break
                await trio.sleep(0.05)
            assert normal.error is None and normal.status == 200
            with trio.move_on_after(12):
                while len(heads) + len(bodies) < 2 * crowd:  # noqa: ASYNC110  # each records its own end
                    await trio.sleep(0.1)
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
        assert statuses == [200] * 20
        assert len(got) == 20, f"the normal stream got {len(got)} of 20 deltas"
        assert len(heads) == crowd and all(r is not None for r in heads), "a slow head was not cut"
        assert len(bodies) == crowd and all(r is not None for r in bodies), "a slow body was not cut"
        assert all(r is not None and r.startswith(b"HTTP/1.1 408") for r in bodies), {r[:40] for r in bodies if r}
        assert proxy.popen.poll() is None
    finally:
        proxy.stop()


def test_a_thousand_clients_that_stop_reading_are_cut_with_memory_bounded_and_a_reader_gets_every_frame() -> None:
    stall_s = 2.0
    proxy = procs.start_proxy(secret=SECRET, aggregate_ms=0, extra={
        "QC_CLIENT_STALL_S": str(stall_s), "QC_CLIENT_BUFFER": "16"})
    stalled_n = 1000
    frames = 60
    deltas: list[int] = []
    rss: dict[str, int] = {}

    async def main() -> None:
        host, port = host_port(proxy.url)
        ps = psutil.Process(proxy.popen.pid)
        rss["before"] = ps.memory_info().rss
        socks: list[trio.socket.SocketType] = []
        for _ in range(stalled_n):
            sock = trio.socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's buffer fills
            await sock.connect((host, port))
            await sock.send(b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(sock)

        def on_event(client: StreamClient, now: float, event: Event) -> None:
            if event.event == "delta":
                deltas.append(1)

        reader = StreamClient(proxy.url, on_event=on_event)
        workload = Workload(100, prefix="st")  # every frame carries 100 queues (~20 KB): buffers fill in a few
        peak = 0
        async with trio.open_nursery() as nursery:
            await connect_all([reader], nursery)
            poster = Poster(proxy.url, CALLBACK_PATH)
            for k in range(frames):
                batch = [workload.next(q, waiting=k + 1).envelope() for q in workload.queue_ids]
                body, headers = signed_body(batch, SECRET)
                status, _ = await poster.post(body, headers, timeout_s=10)
                assert status == 200
                peak = max(peak, ps.memory_info().rss)
                await trio.sleep(0.1)
            await poster.aclose()
            for _ in range(60):  # up to 3 s for the reader's last frame
                if len(deltas) >= frames:
                    break
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        rss["peak"] = peak
        for sock in socks:
            sock.close()

    procs.raise_nofile()
    try:
        trio.run(main)
        assert len(deltas) == frames, f"the reading client got {len(deltas)} of {frames} frames"
        stalled = _metric(proxy, "queuecast_sse_disconnects_total", '{reason="stalled"}')
        assert stalled >= stalled_n, f"only {stalled:.0f} of {stalled_n} stalled clients were cut"
        grown_kb = (rss["peak"] - rss["before"]) / 1024 / stalled_n
        assert grown_kb < 64, f"{grown_kb:.0f} KB of proxy memory per stalled client"
    finally:
        proxy.stop()


async def _keep_connected(client: StreamClient, scopes: dict[int, trio.CancelScope], retry_afters: list[float],
                          connected: list[int]) -> None:
    """Connect, honour 503 + Retry-After, and reconnect at once (with the last id) when dropped, for ever."""
    while True:
        with trio.CancelScope() as scope:
            scopes[id(client)] = scope
            async with trio.open_nursery() as nursery:
                await nursery.start(client.run)
                if client.status == 200:
                    connected.append(1)
        if scope.cancelled_caught:
            continue  # dropped by the test: the storm, straight back
        if client.status == 503:
            wait_s = float(client.retry_after or "1")
            retry_afters.append(wait_s)
            await trio.sleep(wait_s)
        elif client.status != 200:
            await trio.sleep(1)
        else:
            return  # the server ended the stream: not part of this test


def test_a_reconnect_storm_is_spread_by_503_retry_after_and_every_client_resumes_exactly() -> None:
    # 2,000 at 400/s keeps the shape (five times the rate at once) in a fifth of the time; the
    # issue's own figure: STORM_CLIENTS=5000 pytest -s -k storm tests/test_hostile_clients.py (README)
    n = int(os.environ.get("STORM_CLIENTS", "2000"))
    rate = n // 5
    proxy = procs.start_proxy(secret=SECRET, aggregate_ms=100, extra={"QC_CONNECT_RATE": str(rate)})
    clients = [StreamClient(proxy.url, keep_state=True) for _ in range(n)]
    scopes: dict[int, trio.CancelScope] = {}
    retry_afters: list[float] = []
    storm_retry: list[float] = []
    outcome: dict[str, float] = {}

    async def until(count: list[int], target: int, within_s: float) -> float:
        t0 = time.monotonic()
        with trio.move_on_after(within_s):
            while len(count) < target:  # noqa: ASYNC110  # thousands of tasks append; one poll is cheapest
                await trio.sleep(0.1)
        return time.monotonic() - t0

    async def main() -> None:
        workload = Workload(8, prefix="rs")
        connected: list[int] = []
        stop_posting = trio.Event()

        async def ticker() -> None:
            poster = Poster(proxy.url, CALLBACK_PATH)
            k = 0
            while not stop_posting.is_set():
                k += 1
                body, headers = signed_body(workload.next(workload.queue_ids[k % 8], waiting=k).envelope(), SECRET)
                status, _ = await poster.post(body, headers)
                assert status == 200
                await trio.sleep(0.2)  # a few frames a second: 5,000 clients parse them in this one process
            await poster.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            for client in clients:
                nursery.start_soon(_keep_connected, client, scopes, retry_afters, connected)
            outcome["connect_s"] = await until(connected, n, 60)
            assert len(connected) >= n, f"{len(connected)} of {n} connected within 60 s"
            await trio.sleep(1.0)
            # the storm: every connection drops at once and comes straight back with its Last-Event-ID
            connected.clear()
            before = len(retry_afters)
            for scope in scopes.values():
                scope.cancel()
            outcome["storm_s"] = await until(connected, n, 60)
            storm_retry.extend(retry_afters[before:])
            assert len(connected) >= n, f"{len(connected)} of {n} back within 60 s"
            await trio.sleep(1.0)
            stop_posting.set()
            await trio.sleep(1.0)  # the last frames reach everyone
            fresh = StreamClient(proxy.url, keep_state=True)
            await nursery.start(fresh.run)
            await trio.sleep(0.5)
            truth = dict(fresh.state)
            outcome["differ"] = sum(1 for c in clients if c.state != truth)
            outcome["queues"] = len(truth)
            nursery.cancel_scope.cancel()

    procs.raise_nofile()
    try:
        trio.run(main)
        print(f"storm: connected in {outcome['connect_s']:.1f} s, back after the storm in {outcome['storm_s']:.1f} s, "
              f"{len(storm_retry)} 503s in the storm")
        assert outcome["queues"] == 8
        assert outcome["differ"] == 0, f"{outcome['differ']:.0f} of {n} clients differ from a fresh snapshot"
        assert storm_retry, f"a storm of {n} over a rate of {rate}/s was never told to retry"
        assert all(1 <= s <= 5 for s in storm_retry) and len(set(storm_retry)) > 1, sorted(set(storm_retry))
        replays = _metric(proxy, "queuecast_sse_starts_total", '{start="replay"}')
        assert replays >= n, f"only {replays:.0f} of {n} reconnections resumed (the rest got a snapshot)"
    finally:
        proxy.stop()
