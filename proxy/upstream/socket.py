"""One Notifications WebSocket: connect, ping, read frames, dispatch them; report how it ended.

The socket task reads frames with a watchdog (``heartbeat_timeout_s`` without a heartbeat, pong or
event ends it as ``"heartbeat"``), pings every ``ping_s``, and hands each frame to the lane: control
notices (``closing``, ``revoked``, ``unsubscribed``) and the socket's end (``died``, ``heartbeat``)
as :data:`Signal`\\ s, observations to the lane's observation handler. A malformed frame is dropped
and counted (``invalid``); it never ends the socket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionTimeout,
    DisconnectionTimeout,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from proxy.errors import InvalidInput
from proxy.ingest.notification import Notification, parse_notification
from proxy.upstream.channels import Channel
from proxy.upstream.sinks import FrameOutcome

log = logging.getLogger("queuecast.upstream.notifications")

SOCKET_ERRORS = (OSError, HandshakeError, ConnectionTimeout, DisconnectionTimeout, ConnectionClosed,
                 trio.BrokenResourceError)
_PING = '{"message":"ping"}'

#: What a socket tells its lane: its own end, or a control notice from the platform.
Signal = Literal["died", "heartbeat", "closing", "revoked", "unsubscribed", "topics"]


@dataclass(eq=False)
class Socket:
    channel: Channel
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    ws: WebSocketConnection | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketHooks:
    """How a socket talks back to its lane."""

    signal: Callable[[Signal, Socket | None], None]
    #: An observation notification; returns the frame's outcome (``applied``, ``unfollowed``, ...).
    observation: Callable[[Notification], FrameOutcome]
    count_frame: Callable[[FrameOutcome], None]
    #: +1 when connected, -1 when the connection ends (the lane's coverage accounting).
    coverage: Callable[[int], None]
    heartbeat: Callable[[], None]


async def run_socket(ch: Channel, hooks: SocketHooks, *, name: str, heartbeat_timeout_s: float, ping_s: float,
                     task_status: trio.TaskStatus[Socket]) -> None:
    """Connect to ``ch`` and read until the socket ends or is retired (its cancel scope).

    ``task_status.started(socket)`` once connected; connection errors before that propagate to the
    starter. Afterwards the end is reported as a ``died``/``heartbeat`` signal, never raised.
    """
    sock = Socket(ch)
    reason: Signal = "died"
    with sock.cancel_scope:
        try:
            async with open_websocket_url(ch.connect_uri, connect_timeout=10, disconnect_timeout=2) as ws:
                sock.ws = ws
                hooks.coverage(+1)
                try:
                    task_status.started(sock)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_pinger, ws, ping_s)
                        reason = await _reader(sock, ws, hooks, name=name, timeout_s=heartbeat_timeout_s)
                        nursery.cancel_scope.cancel()
                finally:
                    hooks.coverage(-1)
        except SOCKET_ERRORS as exc:
            if sock.ws is None:
                raise  # not connected: the caller of nursery.start handles it
            log.info("%s: socket closed (%s)", name, type(exc).__name__)
        hooks.signal(reason, sock)


async def _pinger(ws: WebSocketConnection, every_s: float) -> None:
    while True:
        await trio.sleep(every_s)
        try:
            await ws.send_message(_PING)
        except ConnectionClosed:
            return  # the reader notices the close too


async def _reader(sock: Socket, ws: WebSocketConnection, hooks: SocketHooks, *, name: str,
                  timeout_s: float) -> Signal:
    while True:
        with trio.move_on_after(timeout_s):
            try:
                raw = await ws.get_message()
            except ConnectionClosed:
                return "died"
            hooks.count_frame(dispatch(sock, raw, hooks, name=name))
            continue
        log.warning("%s: nothing heard for %.1f s; replacing the socket", name, timeout_s)
        return "heartbeat"


def dispatch(sock: Socket, raw: str | bytes, hooks: SocketHooks, *, name: str) -> FrameOutcome:
    """Handle one frame; returns its outcome. Total: a malformed frame is ``invalid``, never raised."""
    try:
        note = parse_notification(raw)
    except InvalidInput as exc:
        log.warning("%s: dropped a malformed frame (%s: %s)", name, exc.field, exc.problem)
        return "invalid"
    if note.kind == "heartbeat":
        hooks.heartbeat()
        return "control"
    if note.kind in ("closing", "revoked", "unsubscribed"):
        log.info("%s: %s received", name, note.topic)
        hooks.signal(note.kind, sock)
        return "control"
    if note.kind == "observation":
        return hooks.observation(note)
    log.debug("%s: ignored topic %s", name, note.topic)
    return "ignored"
