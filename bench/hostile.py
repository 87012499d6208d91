"""Latency under attack: the isolated-event latency of a normal callback and stream, calm and then while a
crowd of hostile clients works on the same proxy (issue 11 §2), in the same run.

The crowd: slowloris sockets trickling a request head (to the stream route) or a callback body a byte
every ``trickle_s`` — each reconnects when the proxy cuts it, as a real attacker does — and streams that
never read, with a small receive window so the proxy's socket buffers fill. Reported: both latency
summaries, their ratios, what the proxy cut meanwhile (from ``/metrics``) and its memory.

    queuecast bench --sections hostile
"""

from __future__ import annotations

import socket
from typing import Any

import trio

from bench.callback import CALLBACK_PATH
from bench.clients import host_port
from bench.latency import isolated_latency
from bench.procs import Child
from bench.progress import say
from bench.stats import summary_ms


async def _slowloris(url: str, kind: str, trickle_s: float, cuts: list[int]) -> None:
    """Trickle a head or a body for ever, reconnecting whenever the proxy cuts the connection."""
    host, port = host_port(url)
    if kind == "head":
        opening = b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n"
    else:
        opening = (b"POST " + CALLBACK_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 100000\r\n\r\n")
    while True:
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError:
            await trio.sleep(trickle_s)
            continue
        async with stream:
            try:
                await stream.send_all(opening)
                while True:
                    await trio.sleep(trickle_s)
                    await stream.send_all(b"a")
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                cuts.append(1)


async def _stalled(url: str) -> trio.socket.SocketType | None:
    host, port = host_port(url)
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        await sock.connect((host, port))
        await sock.send(b"GET /dashboard-stream HTTP/1.1\r\nHost: x\r\n\r\n")
    except OSError:
        sock.close()
        return None
    return sock


async def under_attack(proxy: Child, *, secret: str, events: int, listeners: int, slow_heads: int = 150,
                       slow_bodies: int = 150, stalled: int = 500, trickle_s: float = 1.0) -> dict[str, Any]:
    say(f"  hostile: calm run ({events} isolated events)")
    calm = await isolated_latency(proxy.url, secret=secret, events=events, listeners=listeners)
    rss_calm = proxy.rss_bytes()
    cuts: list[int] = []
    socks: list[trio.socket.SocketType] = []
    async with trio.open_nursery() as nursery:
        for _ in range(slow_heads):
            nursery.start_soon(_slowloris, proxy.url, "head", trickle_s, cuts)
        for _ in range(slow_bodies):
            nursery.start_soon(_slowloris, proxy.url, "body", trickle_s, cuts)
        for _ in range(stalled):
            if (sock := await _stalled(proxy.url)) is not None:
                socks.append(sock)
        await trio.sleep(1.0)
        say(f"  hostile: {slow_heads} slow heads, {slow_bodies} slow bodies (a byte every {trickle_s:g} s), "
            f"{len(socks)} streams that never read; same run again")
        attacked = await isolated_latency(proxy.url, secret=secret, events=events, listeners=listeners)
        rss_attacked = proxy.rss_bytes()
        nursery.cancel_scope.cancel()
    for sock in socks:
        sock.close()
    calm_ms, attacked_ms = summary_ms(calm.latencies_s), summary_ms(attacked.latencies_s)
    rss_mb = {"calm": round(rss_calm / 2**20, 1), "attacked": round(rss_attacked / 2**20, 1)}
    result: dict[str, Any] = {
        "crowd": {"slow_heads": slow_heads, "slow_bodies": slow_bodies, "stalled_streams": len(socks),
                  "trickle_s": trickle_s, "cut_meanwhile": len(cuts)},
        "calm_ms": calm_ms, "attacked_ms": attacked_ms,
        "p50_ratio": round(attacked_ms["p50"] / calm_ms["p50"], 2),
        "p99_ratio": round(attacked_ms["p99"] / calm_ms["p99"], 2),
        "missed": {"calm": calm.missed, "attacked": attacked.missed},
        "failed_callbacks": {"calm": calm.failed_callbacks, "attacked": attacked.failed_callbacks},
        "proxy_rss_mb": rss_mb,
    }
    say(f"  hostile: p50 {calm_ms['p50']:.2f} -> {attacked_ms['p50']:.2f} ms, p99 {calm_ms['p99']:.2f} -> "
        f"{attacked_ms['p99']:.2f} ms under attack; {attacked.failed_callbacks} failed callbacks, "
        f"{attacked.missed} missed frames; RSS {rss_mb['calm']} -> {rss_mb['attacked']} MB")
    return result
