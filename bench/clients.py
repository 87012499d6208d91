"""The bench's HTTP clients: a keep-alive callback poster and an SSE stream reader.

Both are real TCP connections made with raw trio streams (see :mod:`bench.http1`), cheap enough
that one harness process holds 10,000 streams.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import msgspec
import trio

from bench.http1 import Event, ProtocolError, Reader, SSEParser, request_bytes


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


class Poster:
    """One keep-alive connection posting requests in sequence; reconnects after an error."""

    def __init__(self, url: str, path: str) -> None:
        self._host, self._port = host_port(url)
        self._path = path
        self._stream: trio.SocketStream | None = None
        self._reader: Reader | None = None

    async def post(self, body: bytes, headers: dict[str, str], *, timeout_s: float = 10.0) -> tuple[int, float]:
        """POST to this poster's path: ``(status, seconds)``; status 0 when the connection failed or timed out."""
        start = time.perf_counter()
        status, _ = await self.request("POST", self._path, body, headers, timeout_s=timeout_s)
        return status, time.perf_counter() - start

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                      timeout_s: float = 10.0) -> tuple[int, bytes]:
        """Any request on this connection: ``(status, body)``; status 0 on a connection error or timeout."""
        try:
            with trio.fail_after(timeout_s):
                if self._stream is None:
                    self._stream = await trio.open_tcp_stream(self._host, self._port)
                    self._reader = Reader(self._stream)
                assert self._reader is not None
                await self._stream.send_all(request_bytes(method, path, f"{self._host}:{self._port}",
                                                          body=body, headers=headers))
                head = await self._reader.head()
                data = await self._reader.body(head)
                if head.headers.get("connection", "").lower() == "close":
                    await self.aclose()
                return head.status, data
        except (OSError, trio.BrokenResourceError, trio.TooSlowError, ProtocolError):
            await self.aclose()
            return 0, b""

    async def aclose(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with trio.CancelScope(shield=True):
                await stream.aclose()


class FrameHead(msgspec.Struct):
    """A stream frame with its views left encoded (decoded lazily: the cheap path for 1,000s of clients)."""

    seq: int
    asOf: str  # the wire name
    queues: dict[str, msgspec.Raw]
    removed: list[str] = []


frame_decoder = msgspec.json.Decoder(FrameHead)

#: ``on_event(client, arrival_wall_s, event)`` for frames (``snapshot``/``delta``) and ``status``.
OnEvent = Callable[["StreamClient", float, Event], None]


@dataclass(eq=False)
class StreamClient:
    """One ``GET /dashboard-stream`` connection.

    Counts frames and bytes, optionally keeps the newest encoded view of every queue (``keep_state``:
    what this client would render), and hands every event to ``on_event``. ``status`` is the HTTP
    status (0 = could not connect); ``error`` says why the stream ended early.
    """

    url: str
    path: str = "/dashboard-stream"
    keep_state: bool = False
    on_event: OnEvent | None = None
    last_event_id: str | None = None
    status: int = 0
    retry_after: str | None = None
    frames: int = 0
    nbytes: int = 0
    error: str | None = None
    state: dict[str, bytes] = field(default_factory=dict)
    connected: trio.Event = field(default_factory=trio.Event)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect and read until cancelled. ``task_status.started()`` once the response head is in
        (or the attempt failed), so a caller can ramp up connections at a bounded rate."""
        host, port = host_port(self.url)
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        started = False
        try:
            stream = await trio.open_tcp_stream(host, port)
            async with stream:
                await stream.send_all(request_bytes("GET", self.path, f"{host}:{port}", headers=headers))
                reader = Reader(stream)
                head = await reader.head()
                self.status = head.status
                self.retry_after = head.headers.get("retry-after")
                self.connected.set()
                task_status.started()
                started = True
                if head.status != 200:
                    return
                parser = SSEParser()
                async for chunk in reader.payloads(head):
                    self.nbytes += len(chunk)
                    now = time.time()
                    for event in parser.feed(chunk):
                        self._handle(now, event)
                    self.last_event_id = parser.last_id
                self.error = "stream ended by the server"
        except (OSError, trio.BrokenResourceError, ProtocolError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if not started:
                self.connected.set()
                task_status.started()

    def _handle(self, now: float, event: Event) -> None:
        if event.event in ("snapshot", "delta"):
            self.frames += 1
            if self.keep_state:
                frame = frame_decoder.decode(event.data)
                if event.event == "snapshot":
                    self.state.clear()  # a snapshot is the whole state
                for queue_id in frame.removed:
                    self.state.pop(queue_id, None)
                for queue_id, raw in frame.queues.items():
                    self.state[queue_id] = bytes(raw)
        if self.on_event is not None:
            self.on_event(self, now, event)
