"""The side-by-side's subscriber probe: one process, plain ``epoll``, N SSE connections.

Run as ``python -m bench.peer_probe``.

The trio clients of :mod:`bench.clients` cost ~40–50 µs of CPU per event they read; at 5,000–10,000
subscribers a message every 200 ms then needs more than the machine's two cores, and the figures
measure the probe's backlog rather than the server. This probe does only what timing needs: a
non-blocking connect (``parallel`` at a time), one request, and on every read the message numbers
found in complete SSE blocks, stamped with ``time.time()``; a few µs per event.

Protocol with the parent (:mod:`bench.peer`): argv ``HOST PORT PATH N PARALLEL KIND MESSAGES`` (KIND
``seq``: ``"seq":K`` in the data, the proxy; ``lead``: ``data: K ...``, nchan). Prints ``connected C
SECONDS`` once every connection has its response head (or failed), then reads one line from stdin:
``BASE`` (the proxy's seq before the first message: message k is seq BASE + k); prints ``all`` once
C × MESSAGES events are in; reads until stdin closes, then prints one JSON line
``{"first": {k: t}, "receipts": {k: [t, ...]}, "events": E, "cpu_s": S, "event_bytes": B}`` (B: the mean
size of an event block, the SSE lines included).
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import socket
import sys
import time

_SEQ = re.compile(rb'"seq":(\d+)')
_LEAD = re.compile(rb"\ndata: (\d+) ")


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str]) -> int:
    host, port, path, n, parallel, kind = argv[0], int(argv[1]), argv[2], int(argv[3]), int(argv[4]), argv[5]
    messages = int(argv[6])
    pattern = _SEQ if kind == "seq" else _LEAD
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    ep = select.epoll()
    socks: dict[int, socket.socket] = {}
    state: dict[int, int] = {}  # fd -> 0 connecting, 1 head pending, 2 streaming
    bufs: dict[int, bytes] = {}
    started = 0
    connected = failed = 0
    t0 = time.perf_counter()

    def open_one() -> None:
        nonlocal started
        s = socket.socket()
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks[s.fileno()] = s
        state[s.fileno()] = 0
        bufs[s.fileno()] = b""
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
        started += 1

    def fail(fd: int) -> None:
        nonlocal failed
        failed += 1
        ep.unregister(fd)
        socks.pop(fd).close()
        state.pop(fd)
        bufs.pop(fd)

    while started < n and started - connected - failed < parallel:
        open_one()
    while connected + failed < n and time.perf_counter() - t0 < 120:
        for fd, mask in ep.poll(1.0):
            st = state.get(fd)
            if st is None:
                continue
            if st == 0 and mask & select.EPOLLOUT:
                err = socks[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(fd)
                    continue
                socks[fd].send(request)
                state[fd] = 1
                ep.modify(fd, select.EPOLLIN)
            elif st == 1 and mask & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
                try:
                    data = socks[fd].recv(65536)
                except OSError:
                    data = b""
                if not data:
                    fail(fd)
                    continue
                buf = bufs[fd] + data
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    bufs[fd] = buf
                    continue
                if not buf.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                    fail(fd)
                    continue
                bufs[fd] = buf[end + 4:]
                state[fd] = 2
                connected += 1
        while started < n and started - connected - failed < parallel:
            open_one()
    print(f"connected {connected} {time.perf_counter() - t0:.3f}", flush=True)

    line = sys.stdin.readline()
    base = int(line.strip() or 0)
    receipts: dict[int, list[float]] = {}
    events = 0
    event_bytes = 0
    cpu0 = _cpu_s()
    stdin_fd = sys.stdin.fileno()
    ep.register(stdin_fd, select.EPOLLIN)
    done = False
    while not done:
        for fd, _mask in ep.poll(1.0):
            if fd == stdin_fd:
                if not os.read(stdin_fd, 4096):
                    done = True
                continue
            if state.get(fd) != 2:
                continue
            try:
                data = socks[fd].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                ep.unregister(fd)
                state.pop(fd)
                continue
            now = time.time()
            buf = bufs[fd] + data
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                bufs[fd] = buf
                continue
            event_bytes += cut + 2
            for m in pattern.finditer(b"\n" + buf[: cut + 2]):
                k = int(m.group(1)) - base
                if k > 0:
                    receipts.setdefault(k, []).append(now)
                    events += 1
                    if events == connected * messages:
                        print("all", flush=True)
            bufs[fd] = buf[cut + 2:]
    cpu = _cpu_s() - cpu0
    first = {k: min(v) for k, v in receipts.items()}
    print(json.dumps({"first": first, "receipts": receipts, "events": events, "cpu_s": cpu,
                      "event_bytes": event_bytes // max(1, events)}), flush=True)
    for s in socks.values():
        s.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
