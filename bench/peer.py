"""Fan-out side by side with nchan (``queuecast bench --peer nchan``): the same probe drives both servers.

Workload (issue 16): N subscribers on one stream, then ``messages`` messages one every ``interval_s``;
queuecast runs with ``QC_AGGREGATE_MS=0`` so nothing coalesces. Per server and N: publish → receipt
p50/p99 over every (client, message), server memory per connection (RSS growth over N), time to
connect all, and server CPU per delivered client-frame (user + system CPU of the server's processes
during the messages, over the frames the clients received). Each server runs on its own, never both
at once, so they do not share the two cores.

nchan is nginx with Debian's ``libnginx-mod-nchan``, started with the anchor's scripts (``bench/nchan/``,
copied from ``../shared/anchors/nchan/``; ``NCHAN_ANCHOR_DIR`` names another folder) as an ordinary process
on a free loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in .venv (types-psutil)
import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster, host_port
from bench.http1 import Event
from bench.procs import ROOT, start_proxy
from bench.progress import say
from bench.stats import summary_ms
from bench.timefmt import iso_ms

#: nginx config and start/stop scripts (a copy of the shared anchor's, so CI has them; NCHAN_ANCHOR_DIR overrides)
ANCHOR = Path(os.environ.get("NCHAN_ANCHOR_DIR", ROOT / "bench" / "nchan"))
QUEUE_UPDATE_TOPIC = "com.genesyscloud.telephony.queue.update"  # the guide's topic (never imported from proxy)
NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")


def nchan_unavailable() -> str | None:
    """Why nchan cannot run here, or None."""
    if shutil.which("nginx") is None or not NCHAN_MODULE.exists():
        return "nginx with the nchan module is not installed (apt-get install nginx-light libnginx-mod-nchan)"
    if not (ANCHOR / "start.sh").exists():
        return f"no nchan start script at {ANCHOR} (set NCHAN_ANCHOR_DIR)"
    return None


@dataclass
class Server:
    """A running fan-out server as the probe sees it."""

    name: str
    url: str
    sub_path: str
    pids: Callable[[], list[int]]
    publish: Callable[[Poster, int], Awaitable[int]]  # message number → HTTP status
    message_of: Callable[[Event, int], int | None]  # event, seq of the first frame → message number
    stop: Callable[[], None]

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(p) for p in self.pids()]

    def cpu_s(self) -> float:
        return sum(float(t.user + t.system) for t in (p.cpu_times() for p in self.processes()))

    def rss(self) -> int:
        return sum(int(p.memory_info().rss) for p in self.processes())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nchan(*, size: int = 0) -> Server:
    """nchan on a free port; each message's data is padded to ``size`` bytes (the proxy's frame size in the
    same run), so the probe parses as many bytes per event from both servers."""
    run = Path(tempfile.mkdtemp(prefix="qc-nchan-"))
    port = _free_port()
    subprocess.run([str(ANCHOR / "start.sh"), str(run), str(port), "1"], check=True, capture_output=True)
    master = int((run / "nginx.pid").read_text())

    def pids() -> list[int]:
        return [master, *(c.pid for c in psutil.Process(master).children())]

    async def publish(poster: Poster, n: int) -> int:
        body = str(n).encode() + b" "
        body += b"x" * max(0, size - len(body))
        status, _ = await poster.request("POST", "/pub?id=fan", body, {"X-EventSource-Event": "delta"})
        return status

    def message_of(event: Event, _first: int) -> int | None:
        head = event.data.split(b" ", 1)[0]
        return int(head) if event.event == "delta" and head.isdigit() else None

    def stop() -> None:
        subprocess.run([str(ANCHOR / "stop.sh"), str(run)], check=False, capture_output=True)
        shutil.rmtree(run, ignore_errors=True)

    return Server("nchan", f"http://127.0.0.1:{port}", "/sub?id=fan", pids, publish, message_of, stop)


def start_queuecast(secret: str) -> Server:
    child = start_proxy(secret=secret, aggregate_ms=0, max_clients=50_000)

    async def publish(poster: Poster, n: int) -> int:
        now = iso_ms(time.time_ns() // 1_000_000 + n)  # + n: strictly newer even within one millisecond
        envelope = {
            "eventId": f"fan-{n}-{time.time_ns()}", "topic": QUEUE_UPDATE_TOPIC, "timestamp": now,
            "payload": {"queueState": {"queueId": "fan", "mediaType": "voice", "observedAt": now, "oWaiting": n}},
        }
        body, headers = signed_body([envelope], secret)
        status, _ = await poster.post(body, headers)
        return status

    def message_of(event: Event, first: int) -> int | None:
        if event.event != "delta":
            return None
        i = event.data.find(b'"seq":')
        if i < 0:
            return None
        j = event.data.find(b",", i)
        return int(event.data[i + 6: j]) - first

    return Server("queuecast", child.url, "/dashboard-stream", lambda: [child.popen.pid], publish, message_of,
                  child.stop)


async def probe(server: Server, *, subscribers: int, messages: int = 20, interval_s: float = 0.2,
                parallel: int = 128, first_seq: Callable[[], Awaitable[int]] | None = None) -> dict[str, Any]:
    """One sitting: ``subscribers`` connections held by :mod:`bench.peer_probe` (its own process, epoll),
    then ``messages`` published from here. Returns the row."""
    host, port = host_port(server.url)
    kind = "seq" if server.name == "queuecast" else "lead"
    argv = [sys.executable, "-m", "bench.peer_probe", host, str(port), server.sub_path, str(subscribers),
            str(parallel), kind, str(messages)]
    rss0 = server.rss()
    connect_cpu0 = server.cpu_s()
    child = await trio.lowlevel.open_process(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert child.stdin is not None and child.stdout is not None
    lines = Lines(child.stdout)
    poster = Poster(server.url, CALLBACK_PATH)
    try:
        _, count, seconds = (await lines.next(timeout_s=180.0)).split()
        connected, connect_s = int(count), float(seconds)
        connect_cpu = server.cpu_s() - connect_cpu0
        await trio.sleep(1.0)  # the connection burst settles
        rss1 = server.rss()
        # one untimed message first, for both servers: the steady state is measured, not the proxy's first
        # frame, which also turns its upstream status live (one status event to every client)
        await server.publish(poster, 0)
        await trio.sleep(max(0.5, interval_s))
        base = await first_seq() if first_seq is not None else 0
        await child.stdin.send_all(f"{base}\n".encode())
        cpu0 = server.cpu_s()
        sent_at: dict[int, float] = {}
        statuses = []
        for n in range(1, messages + 1):
            tick = trio.current_time()
            sent_at[n] = time.time()
            statuses.append(await server.publish(poster, n))
            await trio.sleep_until(tick + interval_s)
        with trio.move_on_after(10.0):
            while await lines.next(timeout_s=10.0) != "all":
                pass
        cpu = server.cpu_s() - cpu0
        await child.stdin.aclose()
        report = json.loads(await lines.next(timeout_s=30.0))
    finally:
        await poster.aclose()
        with trio.move_on_after(5):
            await child.wait()
        if child.returncode is None:
            child.kill()
    latencies = [t - sent_at[int(k)] for k, ts in report["receipts"].items() if int(k) in sent_at for t in ts]
    delivered = len(latencies)
    lat = summary_ms(latencies)
    return {
        "server": server.name, "subscribers": subscribers, "connected": connected,
        "publish_ok": sum(1 for s in statuses if 200 <= s < 300), "messages": messages,
        "delivered": delivered, "expected": connected * messages, "latency_ms": lat,
        "event_data_bytes": report["event_bytes"],
        "first_receipt_ms": summary_ms([t - sent_at[int(k)] for k, t in report["first"].items() if int(k) in sent_at]),
        "connect_all_s": round(connect_s, 2),
        "connect_cpu_per_connection_us": round(connect_cpu / max(1, connected) * 1e6, 1),
        "memory_per_connection_kb": round((rss1 - rss0) / max(1, connected) / 1024, 2),
        "server_cpu_s": round(cpu, 3),
        "cpu_per_client_frame_us": round(cpu / max(1, delivered) * 1e6, 2),
        "probe_cpu_per_client_frame_us": round(report["cpu_s"] / max(1, delivered) * 1e6, 2),
    }


class Lines:
    """Lines of a child's stdout."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buf = b""

    async def next(self, *, timeout_s: float) -> str:
        with trio.fail_after(timeout_s):
            while b"\n" not in self._buf:
                data = await self._stream.receive_some(1 << 20)
                if not data:
                    raise RuntimeError("the peer probe exited early")
                self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode()


def _own_cpu_s() -> float:
    """This (the probe's) process's CPU seconds: the probe is one process and often the bottleneck."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


async def side_by_side(*, secret: str, steps: tuple[int, ...], messages: int = 20, interval_s: float = 0.2,
                       rounds: int = 1) -> dict[str, Any]:
    """For each N: queuecast and nchan, each alone on the machine, ``rounds`` times in alternating order
    (AB, BA, ...: drift in the machine's load falls on both), then the median of each figure per server
    and their ratios (queuecast / nchan). Every sitting is kept under ``rounds`` in the row."""
    reason = nchan_unavailable()
    names = ("queuecast", "nchan") if reason is None else ("queuecast",)
    rows: list[dict[str, Any]] = []
    for n in steps:
        sittings: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        size = 0
        for r in range(rounds):
            # the proxy first in the first round: nchan's messages are padded to the proxy's frame size, so
            # the probe parses as much of each
            for name in names if r % 2 == 0 else tuple(reversed(names)):
                row = await _sitting(name, secret=secret, subscribers=n, messages=messages, interval_s=interval_s,
                                     size=size)
                size = size or row["event_data_bytes"]
                sittings[name].append(row)
        pair: dict[str, Any] = {"subscribers": n, "rounds": sittings}
        for name in names:
            pair[name] = median_row(sittings[name])
        if "nchan" in pair:
            pair["ratios"] = ratios(pair["queuecast"], pair["nchan"])
            say("  ratios queuecast/nchan" + (f" (medians of {rounds})" if rounds > 1 else "") + ": "
                + "  ".join(f"{k} {v}" for k, v in pair["ratios"].items()))
        rows.append(pair)
    return {"workload": {"messages": messages, "interval_s": interval_s, "aggregate_ms": 0, "rounds": rounds},
            "nchan": "ran" if reason is None else f"skipped: {reason}", "rows": rows}


async def _sitting(name: str, *, secret: str, subscribers: int, messages: int, interval_s: float,
                   size: int) -> dict[str, Any]:
    server = start_nchan(size=size) if name == "nchan" else start_queuecast(secret)
    try:
        first_seq = _proxy_seq(server.url) if name == "queuecast" else None
        row = await probe(server, subscribers=subscribers, messages=messages, interval_s=interval_s,
                          first_seq=first_seq)
    finally:
        server.stop()
    lat = row["latency_ms"]
    say(f"  peer {name:>9}: {subscribers:>6} subscribers  p50 {lat['p50']:.0f} ms  p99 {lat['p99']:.0f} ms  "
        f"{row['memory_per_connection_kb']} KB/conn  connect {row['connect_all_s']} s  "
        f"{row['cpu_per_client_frame_us']} µs CPU/client-frame  delivered {row['delivered']}/{row['expected']}")
    return row


def median_row(sittings: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of medians over sittings (the latency summaries figure by figure); the first sitting when one."""
    if len(sittings) == 1:
        return sittings[0]
    out = dict(sittings[0])
    for key, value in sittings[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = statistics.median(s[key] for s in sittings)
        elif isinstance(value, dict):
            out[key] = {k: statistics.median(s[key][k] for s in sittings) for k in value}
    return out


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, float | None]:
    """queuecast / nchan for each figure (below 1 = queuecast better)."""

    def r(a: float, b: float) -> float | None:
        return round(a / b, 2) if b > 0 else None

    return {
        "p50": r(ours["latency_ms"]["p50"], peer["latency_ms"]["p50"]),
        "p99": r(ours["latency_ms"]["p99"], peer["latency_ms"]["p99"]),
        "memory_per_connection": r(ours["memory_per_connection_kb"], peer["memory_per_connection_kb"]),
        "connect_all": r(ours["connect_all_s"], peer["connect_all_s"]),
        "cpu_per_client_frame": r(ours["cpu_per_client_frame_us"], peer["cpu_per_client_frame_us"]),
    }


def _proxy_seq(url: str) -> Callable[[], Awaitable[int]]:
    """The proxy's current frame seq (from ``/api/v1/queues``): message n is then frame ``seq + n``."""

    async def seq() -> int:
        poster = Poster(url, "/api/v1/queues")
        try:
            status, body = await poster.request("GET", "/api/v1/queues", b"", {})
        finally:
            await poster.aclose()
        i = body.find(b'"seq":')
        return int(body[i + 6: body.index(b",", i)]) if status == 200 and i >= 0 else 0

    return seq


def markdown(peer: dict[str, Any]) -> list[str]:
    """The side-by-side table for the report."""
    out = ["## Fan-out side by side with nchan (N subscribers, 20 messages 200 ms apart, QC_AGGREGATE_MS=0)", "",
           f"nchan: {peer['nchan']}.", "",
           "| subscribers | server | p50 / p99 ms | memory per connection KB | connect all s "
           "| CPU per client-frame µs | delivered |", "|---|---|---|---|---|---|---|"]
    for row in peer["rows"]:
        for name in ("queuecast", "nchan"):
            r = row.get(name)
            if r is None:
                continue
            lat = r["latency_ms"]
            out.append(f"| {row['subscribers']} | {name} | {lat['p50']:.0f} / {lat['p99']:.0f} "
                       f"| {r['memory_per_connection_kb']} | {r['connect_all_s']} | {r['cpu_per_client_frame_us']} "
                       f"| {r['delivered']}/{r['expected']} |")
        if "ratios" in row:
            out.append(f"| {row['subscribers']} | ratio q/n | {row['ratios']['p50']} / {row['ratios']['p99']} "
                       f"| {row['ratios']['memory_per_connection']} | {row['ratios']['connect_all']} "
                       f"| {row['ratios']['cpu_per_client_frame']} | |")
    out += ["", "Targets (issue 16): p99 and memory per connection ≤ nchan's, connect all at least as fast, "
            "CPU per delivered client-frame ≤ 30 µs.", ""]
    return out
