"""``POST /api/v1/event-stream/callback`` on the front's own h11 loop, keep-alive, without Hypercorn.

Hypercorn's request path (protocol wrapper, task group, ASGI queueing, send lock) costs several hundred
µs of CPU per request; the callback's own work is ~150 µs. On a connection whose first request is a
callback, this loop parses each request with h11, reads the body (at most ``QC_MAX_BODY_BYTES`` + 1
bytes), calls the same ASGI ``CallbackEndpoint`` Hypercorn would (so size, auth, content type and
validation rules stay in one place), and writes its response with h11. The first request on the
connection that is not a callback is handed back, with every byte already read, to the caller, which
gives the connection to Hypercorn (or the stream path) at that request boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
import trio

from proxy.contract import CALLBACK_PATH
from proxy.stream.connection import MAX_HEAD

Message = MutableMapping[str, Any]
Asgi = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                Awaitable[None]]

_CALLBACK_TARGET = CALLBACK_PATH.encode()


def is_callback_request(head: bytes) -> bool:
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return len(parts) == 3 and parts[0] == b"POST" and parts[1].split(b"?", 1)[0] == _CALLBACK_TARGET


class Closed(Exception):
    """The connection is done (closed by the peer, cut by a deadline, or answered and closed)."""


class IdleConnections:
    """Keep-alive waits between requests, so shutdown can end them at once (Hypercorn closes its idle
    connections when it stops, too)."""

    def __init__(self) -> None:
        self._waits: set[trio.CancelScope] = set()
        self.closing = False

    def wait(self, timeout_s: float) -> trio.CancelScope:
        scope = trio.CancelScope(deadline=trio.current_time() + timeout_s)
        if self.closing:
            scope.cancel()
        return scope

    def enter(self, scope: trio.CancelScope) -> None:
        self._waits.add(scope)

    def leave(self, scope: trio.CancelScope) -> None:
        self._waits.discard(scope)

    def close(self) -> None:
        self.closing = True
        for scope in self._waits:
            scope.cancel()


log = logging.getLogger("queuecast.front")
_INTERNAL_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 20\r\n"
                   b'Connection: close\r\n\r\n{"error":"internal"}')
_BODY_TIMEOUT_JSON = b'{"error":"body_timeout","message":"body not complete in time (QC_BODY_TIMEOUT_S)"}'
_BODY_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s")


async def serve_callbacks(stream: trio.SocketStream, received: bytes, *, endpoint: Asgi, max_body_bytes: int,
                          head_timeout_s: float, idle_timeout_s: float, idle: IdleConnections,
                          body_timeout_s: float = 10.0) -> bytes | None:
    """Serve callbacks on ``stream`` until a request that is not one: returns the bytes read of it (its head
    is complete in them), or None when the connection ended. ``idle`` ends keep-alive waits at shutdown;
    ``received`` holds the first request's whole head."""
    buf = received
    server = stream.socket.getsockname()
    client = stream.socket.getpeername()
    try:
        while True:
            if not is_callback_request(buf):
                return buf
            buf = await _one(stream, buf, endpoint, max_body_bytes, body_timeout_s, server, client)
            # the next request: its first byte within the keep-alive timeout, then its head in time
            if not buf:
                waited = idle.wait(idle_timeout_s)
                idle.enter(waited)
                try:
                    with waited:
                        buf = bytes(await stream.receive_some(MAX_HEAD))
                finally:
                    idle.leave(waited)
                if not buf:
                    return None  # closed by the peer, idle too long, or shutting down
            deadline = trio.current_time() + head_timeout_s
            with trio.move_on_at(deadline):
                while b"\r\n\r\n" not in buf and len(buf) <= MAX_HEAD:
                    data = await stream.receive_some(MAX_HEAD)
                    if not data:
                        return None
                    buf += data
            if b"\r\n\r\n" not in buf and len(buf) <= MAX_HEAD:
                return None  # a slow head is cut
    except Closed:
        return None


async def _one(stream: trio.SocketStream, buf: bytes, endpoint: Asgi, max_body_bytes: int, body_timeout_s: float,
               server: Any, client: Any) -> bytes:
    """One request whose head is in ``buf``: read its body, answer it; returns what was read past it.

    The whole body must arrive within ``body_timeout_s`` of the head (``QC_BODY_TIMEOUT_S``): a body trickled
    a byte at a time gets a 408 and the connection is closed, whatever the pace of each read."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    conn.receive_data(buf)
    body: list[bytes] = []
    size = 0
    request: h11.Request | None = None
    body_deadline = trio.current_time() + body_timeout_s  # the head is already in: the body's clock starts
    cut = False  # the body is over the limit: answered (413 by the endpoint), then closed
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Request):
                request = event
                if conn.they_are_waiting_for_100_continue:
                    await stream.send_all(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
                size += len(event.data)
                if size > max_body_bytes:
                    cut = True
                    break
            elif isinstance(event, h11.EndOfMessage):
                break
            elif event is h11.NEED_DATA:
                with trio.move_on_at(body_deadline):
                    data = await stream.receive_some(65536)
                    if not data:
                        raise Closed
                    conn.receive_data(data)
                    continue
                with trio.move_on_after(1):
                    await stream.send_all(_BODY_TIMEOUT % (len(_BODY_TIMEOUT_JSON), _BODY_TIMEOUT_JSON))
                raise Closed
            else:
                raise Closed
    except h11.RemoteProtocolError as exc:
        status = exc.error_status_hint
        with trio.move_on_after(1):
            await stream.send_all(b"HTTP/1.1 %d Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                  % status)
        raise Closed from None
    assert request is not None
    path, _, query = request.target.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": request.http_version.decode(),
        "method": request.method.decode(), "scheme": "http", "path": path.decode("latin-1"),
        "raw_path": path, "query_string": query, "root_path": "", "headers": list(request.headers),
        "client": client, "server": server,
    }
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            await trio.sleep_forever()
        delivered = True
        return {"type": "http.request", "body": b"".join(body), "more_body": False}

    out: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if cut:
                headers.append((b"connection", b"close"))
            data = conn.send(h11.Response(status_code=message["status"], headers=headers))
        else:
            data = conn.send(h11.Data(data=message.get("body", b""))) if message.get("body") else b""
            if not message.get("more_body", False):
                data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
        if data:
            out.append(data)

    try:
        await endpoint(scope, receive, send)
    except Exception:  # a bug: answered 500 as Hypercorn would, logged once, this connection closed
        log.exception("callback endpoint failed")
        with trio.move_on_after(1):
            await stream.send_all(_INTERNAL_ERROR)
        raise Closed from None
    await stream.send_all(b"".join(out))
    if cut or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
        raise Closed
    conn.start_next_cycle()
    return bytes(conn.trailing_data[0])
