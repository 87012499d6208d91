"""One ``/dashboard-stream`` connection on a trio socket: h11 reads the request head and writes the
response head; then the body is the subscriber's pre-framed chunks, written as they are.

Refuses hostile input as Hypercorn does: a head larger than ``MAX_HEAD`` gets 431, a malformed one 400,
a head not complete by the deadline the front set (slowloris) is cut; other methods get 405. A stream
ends on the client's close or reset, when its socket has not drained for ``QC_CLIENT_STALL_S`` (our own
deadline, so the cut does not depend on ``TCP_USER_TIMEOUT``), or at shutdown with a last ``retry:``
block (jittered) and the end of the chunked body.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
from http import HTTPStatus
from typing import NamedTuple

import h11
import trio

from proxy.errors import SubscriberClosed
from proxy.hub.frames import chunk
from proxy.runtime import Runtime
from proxy.sse import encode_retry
from proxy.stream.admission import Cors, Refusal, StreamRequest, admit, shutdown_retry_ms
from proxy.stream.socket_subscriber import SocketSubscriber

log = logging.getLogger("queuecast.stream")

#: Request head limit, as Hypercorn's ``h11_max_incomplete_size`` (16 KiB): beyond it, 431.
MAX_HEAD = 16 * 1024
#: Bytes a client may send after its stream request (it has no reason to send any) before it is cut.
MAX_INBOUND_AFTER_HEAD = 64 * 1024
LAST_CHUNK = b"0\r\n\r\n"
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
#: A plain request head, as a browser or EventSource sends it: a strict subset of what h11 accepts (token
#: method, visible-ASCII target, HTTP/1.0 or 1.1, token names, visible-ASCII values with inner SP/HTAB).
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VALUE = rb"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?"
_PLAIN_HEAD = re.compile(b"(" + _TOKEN + b")"
                         + rb" ([\x21-\x7e]+) HTTP/1\.([01])\r\n((?:" + _TOKEN + rb":[ \t]*" + _VALUE
                         + rb"[ \t]*\r\n)*)\r\n")
_PLAIN_FIELD = re.compile(rb"([^:]+):[ \t]*([^\r]*?)[ \t]*\r\n")


class _Request(NamedTuple):
    """What the stream path reads of a request head (the fields of ``h11.Request`` it uses)."""

    method: bytes
    target: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]


def parse_plain_head(received: bytes) -> _Request | None:
    """The request of a plain head without h11 (a third of a new stream's CPU went to h11's parse), or None
    when the head is anything else — incomplete, unusual or malformed — and h11 must judge it: obs-fold,
    control or non-ASCII bytes, a body framing header, no single ``Host`` in HTTP/1.1."""
    match = _PLAIN_HEAD.match(received)
    if match is None or match.end() > MAX_HEAD:
        return None
    version = b"1.1" if match[3] == b"1" else b"1.0"
    headers = [(name.lower(), value) for name, value in _PLAIN_FIELD.findall(match[4])]
    hosts = 0
    for name, _ in headers:
        if name == b"host":
            hosts += 1
        elif name in (b"content-length", b"transfer-encoding"):
            return None
    if hosts > 1 or (hosts == 0 and version == b"1.1"):
        return None
    return _Request(match[1], match[2], version, headers)


class StreamConnections:
    """Serves stream connections the front hands over (``serve(stream, head_bytes, deadline)``)."""

    def __init__(self, runtime: Runtime, cors: Cors) -> None:
        self._rt = runtime
        self._cors = cors
        self._heads: dict[tuple[bytes, tuple[tuple[str, str], ...]], bytes] = {}

    def _head(self, received: bytes, version: bytes, headers: list[tuple[str, str]]) -> bytes:
        """The 200 head h11 writes for these headers: the same bytes for every client of one origin, so it
        is written once per (HTTP version, header set) and reused (at most 256 kept)."""
        key = (version, tuple(headers))
        head = self._heads.get(key)
        if head is None:
            head = _replying(received).send(h11.Response(status_code=200, reason=b"OK", headers=headers))
            assert head is not None
            if len(self._heads) >= 256:
                self._heads.clear()
            self._heads[key] = head
        return head

    async def serve(self, stream: trio.SocketStream, received: bytes, deadline: float) -> None:
        """Serve one connection whose first ``received`` bytes were read by the front; the request head must
        be complete by ``deadline`` (trio time). Never raises for anything the client does."""
        try:
            await self._serve(stream, received, deadline)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _serve(self, stream: trio.SocketStream, received: bytes, deadline: float) -> None:
        request: _Request | h11.Request | None = parse_plain_head(received)
        if request is None:  # not a plain head: h11 judges it (and waits for the rest of an incomplete one)
            conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
            conn.receive_data(received)
            try:
                event = conn.next_event()  # the front read the whole head: no wait, no cancel scope
                request = event if isinstance(event, h11.Request) else None
                if request is None and event is h11.NEED_DATA:
                    with trio.move_on_at(deadline):
                        request = await _read_request(conn, stream)
            except h11.RemoteProtocolError as exc:
                await _send_error(stream, exc.error_status_hint)
                return
            if request is None:
                return  # the head did not arrive in time: cut, as a slow head is
            received = _head_bytes(request)
        rt = self._rt
        settings = rt.settings
        query = request.target.decode("latin-1").partition("?")[2]  # the front checked the path
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        chunked = request.http_version != b"1.0"
        sock = stream.socket
        decision = admit(rt, self._cors, StreamRequest(request.method.decode("latin-1"), headers, query),
                         lambda only: SocketSubscriber(fd=sock.fileno(), capacity=settings.client_buffer,
                                                       stall_s=settings.client_stall_s, only=only, chunked=chunked))
        if isinstance(decision, Refusal):
            head = _replying(received).send(h11.Response(
                status_code=decision.status, reason=HTTPStatus(decision.status).phrase, headers=[
                *decision.headers, ("Content-Length", str(len(decision.body))), ("Connection", "close")]))
            assert head is not None
            await _send_and_close(stream, head + decision.body)
            return
        subscriber = decision.subscriber
        assert isinstance(subscriber, SocketSubscriber)
        head = self._head(received, request.http_version, decision.headers)
        rt.metrics.clients.inc()
        try:
            reason = await _pump(stream, subscriber, head, retry_ms=settings.retry_ms, stall_s=settings.client_stall_s)
        finally:
            rt.broker.detach(subscriber)
            rt.metrics.clients.dec()
        subscriber.close(reason)
        rt.metrics.disconnects.labels(subscriber.closed_reason or reason).inc()


def _replying(received: bytes) -> h11.Connection:
    """An h11 connection that has read the request head ``received``, ready to write its response."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    conn.receive_data(received)
    event = conn.next_event()
    assert isinstance(event, h11.Request), event
    return conn


def _head_bytes(request: h11.Request) -> bytes:
    """A request h11 parsed, as a plain head again (h11 normalised it), for :func:`_replying`."""
    lines = [b"%s %s HTTP/%s" % (request.method, request.target, request.http_version)]
    lines += [b"%s: %s" % (name, value) for name, value in request.headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> h11.Request | None:
    """Read until h11 has the request head; None when the peer closed first."""
    while True:
        data = await stream.receive_some(MAX_HEAD)
        if not data:
            return None
        conn.receive_data(data)
        event = conn.next_event()
        if isinstance(event, h11.Request):
            return event
        if event is not h11.NEED_DATA:
            return None


async def _pump(stream: trio.SocketStream, sub: SocketSubscriber, head: bytes, *, retry_ms: int,
                stall_s: float) -> str:
    """Write the head, then frames until the stream ends; returns why it ended."""
    frame = chunk if sub.chunked else _bare
    retry = encode_retry(retry_ms)
    try:
        first = sub.drain()
        # retry: rides in the first event's block (the same bytes as on the ASGI path)
        out = head + (frame(retry[:-1]) + b"".join(first) if first else frame(retry))
        sock = stream.socket
        fd = sock.fileno()
        inbound = 0
        while True:
            if out and not await _write(stream, fd, out, stall_s):
                _abort(sock)
                return "stalled"
            out = b""
            if sub.ready or sub.has_rest:
                out = sub.take_rest() + b"".join(sub.drain())
                continue
            with trio.CancelScope() as waiting:
                sub.park(waiting)
                await trio.lowlevel.wait_readable(sock)
            sub.unpark()
            if waiting.cancelled_caught:
                continue  # woken: something to write, or closed
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not data:
                return "client"
            inbound += len(data)
            if inbound > MAX_INBOUND_AFTER_HEAD:
                return "client"
    except SubscriberClosed as closed:
        if closed.reason == "stalled":
            _abort(stream.socket)
            return closed.reason
        last = LAST_CHUNK if sub.chunked else b""  # e.g. "expired" (a viewer token's exp): a clean end
        if closed.reason == "shutdown":  # a last, jittered retry so reconnects spread; then the body's end
            last = frame(encode_retry(shutdown_retry_ms(retry_ms))) + last
        if last:
            with trio.move_on_after(1):
                try:
                    await stream.send_all(last)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass  # the client left meanwhile: nothing to end
        return closed.reason
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        return "client"


async def _write(stream: trio.SocketStream, fd: int, data: bytes, stall_s: float) -> bool:
    """One non-blocking write; the rest (what the socket buffer refused) with ``send_all`` under the stall
    deadline. False when the socket did not drain in ``stall_s``."""
    try:
        sent = os.write(fd, data)
    except BlockingIOError:
        sent = 0
    if sent == len(data):
        return True
    with trio.move_on_after(stall_s):
        await stream.send_all(memoryview(data)[sent:])
        return True
    return False


def _bare(payload: bytes) -> bytes:
    return payload


def _abort(sock: trio.socket.SocketType) -> None:
    """Close with RST (SO_LINGER 0): a stalled peer's unsent bytes are dropped now, not kept by the kernel."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


async def _send_error(stream: trio.SocketStream, status: int) -> None:
    reason = _REASONS.get(status, b"Bad Request")
    body = b'{"error":"bad_request"}' if status == 400 else b""
    await _send_and_close(stream, b"HTTP/1.1 %d %b\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b"
                          % (status, reason, len(body), body))


async def _send_and_close(stream: trio.SocketStream, response: bytes) -> None:
    """Send a final response, then a lingering close (RFC 9112 §9.6): stop writing and read off what the
    client still sends for a moment, so unread input does not turn the close into a reset that destroys
    the response before the client reads it."""
    with trio.move_on_after(1):
        await stream.send_all(response)
        await stream.send_eof()
        drained = 0
        while drained < MAX_INBOUND_AFTER_HEAD and (data := await stream.receive_some(MAX_HEAD)):
            drained += len(data)
