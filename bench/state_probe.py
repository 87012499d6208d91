"""The sustained section's subscriber holder: one process, plain ``epoll``, N SSE clients that keep state.

Run as ``python -m bench.state_probe``.

The sustained section's 1,000 trio :class:`bench.clients.StreamClient` s cost the bench process ~100 µs
each per frame; the proxy's frames arrive once per window for every client at once, so a probe client
waiting in that burst measured the harness's backlog (tens of ms at p99) rather than the proxy. This
process holds the non-probe clients (like :mod:`bench.peer_probe` does for the side-by-side) and still
does what convergence needs: it de-chunks, parses SSE, keeps every client's newest encoded view per queue
(a frame is decoded once per distinct bytes: clients with the same filter share frames) and the
``asOf`` → receipt latency of every delta.

Protocol with the parent (:mod:`bench.sustained`): stdin's first line is JSON ``{"host", "port", "paths",
"parallel"}``; prints ``connected C SECONDS`` once every client has its response head (or failed). Then each
``dump`` line on stdin prints one JSON line ``{"states": [[path, {queue: view}, count], ...], "frames": [...],
"nbytes": [...], "refused": R, "cpu_s": S, "receipts_s": [...]}`` (``states``: the distinct client states,
with how many clients hold each; ``receipts_s`` only in the dump after ``final``). Exits when stdin closes.
"""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import sys
import time
from typing import Any

from bench.clients import frame_decoder
from bench.http1 import SSEParser
from bench.timefmt import parse_iso_s


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Client:
    __slots__ = ("buf", "frames", "nbytes", "parser", "path", "sock", "state", "status", "step")

    def __init__(self, sock: socket.socket, path: str) -> None:
        self.sock = sock
        self.path = path
        self.step = 0  # 0 connecting, 1 head pending, 2 streaming, 3 done
        self.status = 0
        self.buf = bytearray()
        self.parser = SSEParser()
        self.state: dict[str, bytes] = {}
        self.frames = 0
        self.nbytes = 0


def _take_chunks(buf: bytearray) -> list[bytes] | None:
    """Complete chunk payloads from the front of ``buf`` (consumed); None at the last chunk."""
    out: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n")
        if eol < 0:
            return out
        size = int(bytes(buf[:eol]).split(b";", 1)[0], 16)
        if size == 0:
            return None
        end = eol + 2 + size
        if len(buf) < end + 2:
            return out
        out.append(bytes(buf[eol + 2:end]))
        del buf[:end + 2]


def main() -> int:
    config = json.loads(sys.stdin.readline())
    host, port, paths, parallel = config["host"], int(config["port"]), config["paths"], int(config["parallel"])
    ep = select.epoll()
    clients: dict[int, _Client] = {}
    pending = list(reversed(paths))
    connecting = 0
    done_connecting = 0
    decoded: dict[bytes, tuple[list[str], list[tuple[str, bytes]], float]] = {}  # data -> removed, views, asOf
    receipts: list[float] = []
    t0 = time.perf_counter()

    def open_one() -> None:
        nonlocal connecting
        path = pending.pop()
        s = socket.socket()
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        clients[s.fileno()] = _Client(s, path)
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
        connecting += 1

    def settle(client: _Client, status: int) -> None:
        nonlocal connecting, done_connecting
        client.status = status
        connecting -= 1
        done_connecting += 1
        if status != 200:
            client.step = 3
            ep.unregister(client.sock.fileno())

    def on_event_block(client: _Client, now: float, data: bytes) -> None:
        for event in client.parser.feed(data):
            if event.event not in ("snapshot", "delta"):
                continue
            client.frames += 1
            frame = decoded.get(event.data)
            if frame is None:
                head = frame_decoder.decode(event.data)
                frame = (list(head.removed), [(q, bytes(raw)) for q, raw in head.queues.items()],
                         parse_iso_s(head.asOf))
                if len(decoded) > 20_000:
                    decoded.clear()
                decoded[event.data] = frame
            if event.event == "snapshot":
                client.state.clear()
            removed, views, as_of = frame
            for queue_id in removed:
                client.state.pop(queue_id, None)
            client.state.update(views)
            if event.event == "delta":
                receipts.append(now - as_of)

    def on_readable(client: _Client) -> None:
        try:
            data = client.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if client.step == 1:
                settle(client, 0)
            elif client.step == 2:
                client.step = 3
                ep.unregister(client.sock.fileno())
            return
        now = time.time()
        client.buf += data
        if client.step == 1:
            end = client.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(client.buf[:client.buf.find(b"\r\n")]).split(b" ")
            status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
            del client.buf[:end + 4]
            settle(client, status)
            if status != 200:
                return
            client.step = 2
        chunks = _take_chunks(client.buf)
        for payload in chunks or ():
            client.nbytes += len(payload)
            on_event_block(client, now, payload)
        if chunks is None:
            client.step = 3
            ep.unregister(client.sock.fileno())

    while pending and connecting < parallel:
        open_one()
    while done_connecting < len(paths) and time.perf_counter() - t0 < 120:
        for fd, mask in ep.poll(1.0):
            client = clients[fd]
            if client.step == 0 and mask & select.EPOLLOUT:
                if client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    settle(client, 0)
                    continue
                client.sock.send(f"GET {client.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                                 "Accept: text/event-stream\r\n\r\n".encode())
                client.step = 1
                ep.modify(fd, select.EPOLLIN)
            elif client.step in (1, 2):
                on_readable(client)
        while pending and connecting < parallel:
            open_one()
    connected = sum(1 for c in clients.values() if c.status == 200)
    print(f"connected {connected} {time.perf_counter() - t0:.3f}", flush=True)

    stdin_fd = sys.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    ep.register(stdin_fd, select.EPOLLIN)
    cpu0 = _cpu_s()
    line = b""
    while True:
        for fd, _mask in ep.poll(1.0):
            if fd == stdin_fd:
                try:
                    data = os.read(stdin_fd, 4096)
                except BlockingIOError:
                    continue
                if not data:
                    return 0
                line += data
                while b"\n" in line:
                    command, _, line = line.partition(b"\n")
                    _dump(clients, cpu0, receipts if command.strip() == b"final" else None)
                continue
            client = clients[fd]
            if client.step == 2:
                on_readable(client)


def _dump(clients: dict[int, _Client], cpu0: float, receipts: list[float] | None) -> None:
    groups: dict[tuple[str, tuple[tuple[str, bytes], ...]], int] = {}
    for c in clients.values():
        if c.status == 200:
            key = (c.path, tuple(sorted(c.state.items())))
            groups[key] = groups.get(key, 0) + 1
    report: dict[str, Any] = {
        "states": [[path, {q: v.decode() for q, v in state}, count] for (path, state), count in groups.items()],
        "frames": [c.frames for c in clients.values() if c.status == 200],
        "nbytes": [c.nbytes for c in clients.values() if c.status == 200],
        "refused": sum(1 for c in clients.values() if c.status != 200),
        "cpu_s": _cpu_s() - cpu0,
    }
    if receipts is not None:
        report["receipts_s"] = [round(r, 5) for r in receipts]
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
