"""Serve the proxy on one port: the stream on trio sockets, everything else with Hypercorn's trio worker.

The front (:mod:`proxy.stream.front`) accepts each connection and dispatches on its request line:
``/dashboard-stream`` goes to :class:`~proxy.stream.connection.StreamConnections`, a connection that
starts with a callback to the front's keep-alive h11 loop (:mod:`proxy.stream.callback_path`, the same
``CallbackEndpoint``), every other connection to Hypercorn with the bytes already read replayed.
"""

from __future__ import annotations

import logging
import math
import signal
import socket
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from proxy.errors import CrashLoop
from proxy.http.app import create_app
from proxy.http.callback import CallbackEndpoint
from proxy.http.cors import CorsPolicy
from proxy.runtime import Runtime, build_runtime
from proxy.settings import Settings
from proxy.stream.connection import StreamConnections
from proxy.stream.front import serve_front

log = logging.getLogger("queuecast.proxy")


def hypercorn_config(host: str, port: int, *, reuse_port: bool = False, idle_timeout_s: float = 75.0) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    if reuse_port:  # Hypercorn sets SO_REUSEPORT on what it binds exactly when it runs several workers
        config.workers = 2
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = idle_timeout_s  # also bounds a request head on a kept-alive connection
    config.graceful_timeout = 3
    config.backlog = 4096
    return config


async def wait_for_signal() -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


async def serve(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    reuse_port: bool = False,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the proxy until ``shutdown_trigger`` returns (or until cancelled).

    Reports the base URL (``http://host:port``) through ``task_status`` once bound. The runtime's
    components run beside Hypercorn (not in the app's lifespan, where a crash would only be logged):
    a :class:`~proxy.errors.CrashLoop` stops the server and is raised from here. ``reuse_port`` binds with
    ``SO_REUSEPORT`` (``queuecast proxy --workers N``: N processes on one port). On shutdown, every
    stream is ended cleanly first, so Hypercorn's graceful close does not wait on them.

    Graceful shutdown, all within ``QC_SHUTDOWN_S``: ``/readyz`` turns 503 and the listeners close; the
    callbacks in flight finish (each one answered 200 has been applied) and later ones get 503; the
    aggregator publishes what is pending; every stream gets a last jittered ``retry:`` and its end; the
    other open requests get what is left of the budget (at most 3 s); then the components stop (the
    Event Bus subscription is deleted there when ``QC_EVENTBUS_CLEANUP`` says so).
    """
    rt = runtime or build_runtime(settings)
    app = create_app(settings, rt)
    trigger = shutdown_trigger or trio.sleep_forever
    deadline = math.inf

    async def _shutdown() -> None:
        nonlocal deadline
        await trigger()
        deadline = trio.current_time() + settings.shutdown_s
        rt.drain.stopping = True
        log.info("shutting down: draining %d callback(s) in flight, then ending %d stream(s)",
                 rt.drain.active, rt.broker.subscriber_count)

    async def _drain() -> float:
        try:
            with trio.move_on_at(deadline - settings.shutdown_s / 2):
                await rt.drain.wait_idle()
        finally:  # even when cancelled: nothing accepted after this, and no stream left hanging
            rt.drain.close()
            rt.aggregator.flush()
            rt.broker.close_all("shutdown")
        return max(0.1, min(config.graceful_timeout, (deadline - trio.current_time()) / 2))

    config = hypercorn_config(settings.host, settings.port, reuse_port=reuse_port,
                              idle_timeout_s=settings.idle_timeout_s)
    sockets = listening_sockets(config, user_timeout_s=settings.client_stall_s)
    cors = CorsPolicy(settings.cors_origins)
    streams = StreamConnections(rt, cors)
    callback = CallbackEndpoint(rt, cors.response_headers)  # the one the app mounts, for the front's h11 loop
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(rt.serve)

            async def http(*, task_status: trio.TaskStatus[list[str]]) -> None:
                await serve_front(wrap_app(app, config.wsgi_max_body_size, None), config, sockets,
                                  on_stream=streams.serve, head_timeout_s=settings.head_timeout_s,
                                  callback=callback, max_body_bytes=settings.max_body_bytes,
                                  body_timeout_s=settings.body_timeout_s,
                                  shutdown_trigger=_shutdown, on_shutdown=_drain, task_status=task_status)
                nursery.cancel_scope.cancel()  # the server is done: so are the components

            binds: list[str] = await nursery.start(http)
            task_status.started(binds[0])
    except BaseExceptionGroup as group:
        crash = group.subgroup(CrashLoop)
        if crash is None:
            raise
        leaf: BaseException = crash
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        log.critical("stopping: %s", leaf)
        raise leaf from None


def listening_sockets(config: Config, *, user_timeout_s: float) -> Sockets:
    """Bind the listening sockets with ``TCP_USER_TIMEOUT`` set (accepted sockets inherit it).

    The stream path cuts a socket that has not drained for ``QC_CLIENT_STALL_S`` itself; this is the
    extra for what it does not own: Hypercorn shields its socket writes from cancellation, so a client
    that stops reading a response (or a stream served on a Hypercorn keep-alive connection) would hold
    its task in ``send_all``. With ``TCP_USER_TIMEOUT`` the kernel aborts a connection whose peer has
    acknowledged nothing (zero-window probes included) for that long.
    """
    sockets = config.create_sockets()
    for sock in (*sockets.insecure_sockets, *sockets.secure_sockets):
        if hasattr(socket, "TCP_USER_TIMEOUT") and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, max(1, int(user_timeout_s * 1000)))
        sock.listen(config.backlog)
    return sockets
