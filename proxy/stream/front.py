"""One port for everything: accept each connection, read its request head, and dispatch on the request
line — ``/dashboard-stream`` to the socket path (:mod:`proxy.stream.connection`), every other connection
to Hypercorn's own trio ``TCPServer`` with the bytes already read replayed, so the callback, the API,
the wallboard and the metrics stay on Hypercorn and QuartTrio.

This is Hypercorn's ``worker_serve`` (0.17–0.18) with the accept step replaced; Hypercorn has no seam for
it. Every head, whichever side serves it, must be complete within ``head_timeout_s`` (a slow head is cut
before anyone parses it), and at most ``MAX_HEAD`` bytes are read before dispatching.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import NoReturn

import trio
from hypercorn.config import Config, Sockets
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import AppWrapper, ConnectionState, LifespanState
from hypercorn.utils import ShutdownError, raise_shutdown, repr_socket_addr

from proxy.contract import STREAM_PATH
from proxy.stream.callback_path import Asgi, IdleConnections, is_callback_request, serve_callbacks
from proxy.stream.connection import MAX_HEAD

log = logging.getLogger("queuecast.front")

#: ``serve(stream, bytes_read, head_deadline)`` for a stream connection.
StreamHandler = Callable[[trio.SocketStream, bytes, float], Awaitable[None]]
_STREAM_TARGET = STREAM_PATH.encode()


#: accept() errors that mean the process is out of descriptors or memory: logged, and accepting resumes a
#: moment later (as ``trio.serve_listeners``); the connection stays in the backlog meanwhile.
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
#: accept() errors about one connection that died in the backlog (as trio's ``SocketListener``): skipped.
ACCEPT_IGNORED_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EPERM", "ECONNABORTED", "EPROTO", "ENETDOWN", "ENOPROTOOPT", "EHOSTDOWN", "ENONET", "EHOSTUNREACH",
    "EOPNOTSUPP", "ENETUNREACH", "ENOSR", "ESOCKTNOSUPPORT", "EPROTONOSUPPORT", "ETIMEDOUT", "ECONNRESET")
    if hasattr(errno, name))


async def accept_loop(sock: socket.socket, handler: Callable[[trio.SocketStream], Awaitable[None]],
                      nursery: trio.Nursery, *, batch: int = 64) -> NoReturn:
    """``trio.serve_listeners`` for one listening socket, accepting up to ``batch`` pending connections per
    wake-up with plain non-blocking ``accept`` calls (trio's ``SocketListener`` takes a checkpoint and its
    wrapper per connection: ~10 % of a new stream's CPU in a connection burst). Closes ``sock`` when
    cancelled (shutdown), so the port stops accepting."""
    sock.setblocking(False)
    try:
        while True:
            await trio.lowlevel.wait_readable(sock)
            for _ in range(batch):
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno in ACCEPT_IGNORED_ERRNOS:
                        continue
                    if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                        raise
                    log.error("accept returned %s (%s); retrying in 0.1 s", errno.errorcode[exc.errno],
                              os.strerror(exc.errno))
                    await trio.sleep(0.1)
                    break
                nursery.start_soon(_run_handler, handler, trio.SocketStream(trio.socket.from_stdlib_socket(conn)))
    finally:
        trio.lowlevel.notify_closing(sock)
        sock.close()


async def _run_handler(handler: Callable[[trio.SocketStream], Awaitable[None]], stream: trio.SocketStream) -> None:
    try:
        await handler(stream)
    finally:
        await trio.aclose_forcefully(stream)


def is_stream_request(head: bytes) -> bool:
    """True when the request line names the stream path (any method: the stream path answers 405 itself)."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return len(parts) == 3 and parts[1].split(b"?", 1)[0] == _STREAM_TARGET


class Replayed(trio.abc.HalfCloseableStream):
    """A socket stream whose first reads return bytes already read (the front's look at the head).

    Has ``socket`` (Hypercorn reads the peer's address from it) and no ``do_handshake``: Hypercorn takes an
    ``AttributeError`` there to mean plain TCP.
    """

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        self._stream = stream
        self._head = head
        self.socket = stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._head:
            if max_bytes is None or max_bytes >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:max_bytes], self._head[max_bytes:]
            await trio.lowlevel.checkpoint()
            return data
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def read_head(stream: trio.SocketStream, deadline: float) -> bytes | None:
    """Read until the end of the request head (or ``MAX_HEAD`` bytes); None if the peer closed or was too slow."""
    try:  # usually the whole head is already here: no cancel scope, no wait
        buf = os.read(stream.socket.fileno(), MAX_HEAD + 1)
    except BlockingIOError:
        buf = b""
    else:
        if not buf:
            return None
        if b"\r\n\r\n" in buf or len(buf) > MAX_HEAD:
            return buf
    with trio.move_on_at(deadline):
        while b"\r\n\r\n" not in buf and len(buf) <= MAX_HEAD:
            data = await stream.receive_some(MAX_HEAD + 1)
            if not data:
                return None
            buf += data
        return buf
    return None


async def serve_front(app: AppWrapper, config: Config, sockets: Sockets, *, on_stream: StreamHandler,
                      head_timeout_s: float, shutdown_trigger: Callable[[], Awaitable[None]],
                      callback: Asgi | None = None, max_body_bytes: int = 1024 * 1024,
                      on_shutdown: Callable[[], Awaitable[float]] | None = None, body_timeout_s: float = 10.0,
                      task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Hypercorn's trio worker, with our dispatch in front. Reports the bound URLs through ``task_status``.

    ``callback``: the callback's ASGI endpoint, served on the front's own keep-alive h11 loop
    (:mod:`proxy.stream.callback_path`) for connections whose first request is a callback; None leaves
    the callback to Hypercorn. ``on_shutdown`` runs once the listeners are closed (idle keep-alive
    connections are ended first) and returns the grace, in seconds, left to the open connections
    (default: Hypercorn's ``graceful_timeout``)."""
    if sockets.secure_sockets or sockets.quic_sockets:
        raise ValueError("the stream front serves plain HTTP only (terminate TLS in front of it)")
    config.set_statsd_logger_class(StatsdLogger)
    lifespan_state: LifespanState = {}
    lifespan = Lifespan(app, config, lifespan_state)
    context = WorkerContext(None)
    idle = IdleConnections()

    async def handle(stream: trio.SocketStream) -> None:
        """One connection. A bug in a handler is logged and ends that connection only: it must not reach
        the accept loop, whose nursery is the whole server's (Hypercorn answers 500 for the same)."""
        try:
            await dispatch(stream)
        except Exception:
            log.exception("connection handler failed; the connection is closed, the server goes on")
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def dispatch(stream: trio.SocketStream) -> None:
        deadline = trio.current_time() + head_timeout_s
        try:
            head = await read_head(stream, deadline)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            head = None
        if head is None:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            return
        if callback is not None and is_callback_request(head):
            try:
                rest = await serve_callbacks(stream, head, endpoint=callback, max_body_bytes=max_body_bytes,
                                             head_timeout_s=head_timeout_s, idle_timeout_s=config.keep_alive_timeout,
                                             idle=idle, body_timeout_s=body_timeout_s)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                rest = None
            if rest is None:
                with trio.CancelScope(shield=True):
                    await stream.aclose()
                return
            head, deadline = rest, trio.current_time() + head_timeout_s
        if is_stream_request(head):
            await on_stream(stream, head, deadline)
            return
        await TCPServer(app, config, context, ConnectionState(lifespan_state.copy()),
                        Replayed(stream, head)).run()  # type: ignore[arg-type]  # duck-typed: a plain stream

    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as server_nursery:
            binds = []
            for sock in sockets.insecure_sockets:
                binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
                await config.log.info(f"Running on {binds[-1]} (CTRL + C to quit)")
            task_status.started(binds)
            try:
                async with trio.open_nursery(strict_exception_groups=True) as nursery:
                    nursery.start_soon(raise_shutdown, shutdown_trigger)
                    nursery.start_soon(raise_shutdown, context.terminate.wait)
                    for sock in sockets.insecure_sockets:
                        nursery.start_soon(accept_loop, sock, handle, server_nursery)
                    await trio.sleep_forever()
            except BaseExceptionGroup as error:
                _, other_errors = error.split((ShutdownError, KeyboardInterrupt))
                if other_errors is not None:
                    raise other_errors from None
            finally:
                idle.close()
                grace = float(config.graceful_timeout)
                if on_shutdown is not None:
                    grace = await on_shutdown()
                await context.terminated.set()
                server_nursery.cancel_scope.deadline = trio.current_time() + grace
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()
