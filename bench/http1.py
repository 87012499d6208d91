"""A minimal HTTP/1.1 client on raw trio streams, and an incremental SSE parser.

httpx costs tens of KB and a few hundred microseconds per connection; the bench holds up to
10,000 streams from one process, so it speaks HTTP/1.1 by hand: requests are written as bytes,
responses are read with a content length or chunked transfer coding (RFC 9112 §7.1), and
``text/event-stream`` bodies are split into events as they arrive (WHATWG HTML §9.2.6).
Only what the proxy and the bench's echo server send is supported; anything else raises
:class:`ProtocolError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import trio

MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The peer sent something this minimal client does not understand (or closed mid-message)."""


@dataclass(slots=True)
class Head:
    status: int
    headers: dict[str, str]


def request_bytes(method: str, path: str, host: str, *, body: bytes = b"",
                  headers: dict[str, str] | None = None) -> bytes:
    """An HTTP/1.1 request with ``Content-Length`` (always, so keep-alive framing is exact)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Reader:
    """Buffered reads from one stream: a response head, then a body framed by length or chunks."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buf = bytearray()

    async def _fill(self) -> None:
        data = await self._stream.receive_some(65536)
        if not data:
            raise ProtocolError("connection closed by peer")
        self._buf += data

    async def head(self) -> Head:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buf) > MAX_HEAD:
                raise ProtocolError("response head too large")
            await self._fill()
        raw = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 4]
        status_line, *lines = raw.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Head(int(parts[1]), headers)

    async def body(self, head: Head) -> bytes:
        """The whole body of a response with ``Content-Length`` or chunked coding."""
        if head.headers.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            async for chunk in self.chunks():
                out += chunk
            return bytes(out)
        length = int(head.headers.get("content-length", "0"))
        while len(self._buf) < length:
            await self._fill()
        data = bytes(self._buf[:length])
        del self._buf[:length]
        return data

    def chunks(self) -> _Chunks:
        """``async for chunk in reader.chunks()``: the payloads of a chunked body, until its last chunk."""
        return _Chunks(self)

    def payloads(self, head: Head) -> AsyncIterator[bytes]:
        """A streamed body as it arrives: chunk payloads when chunked, else raw reads until the peer closes
        (a close-delimited body, RFC 9112 §6.3, as nchan sends its event streams)."""
        if head.headers.get("transfer-encoding", "").lower() == "chunked":
            return self.chunks()
        return self._until_close()

    async def _until_close(self) -> AsyncIterator[bytes]:
        if self._buf:
            buffered, self._buf = bytes(self._buf), bytearray()
            yield buffered
        while data := await self._stream.receive_some(65536):
            yield bytes(data)

    def take_chunk(self) -> bytes | None:
        """One complete chunk's payload from the buffer (b"" for the last chunk), or None if incomplete."""
        buf = self._buf
        eol = buf.find(b"\r\n")
        if eol < 0:
            return None
        size_text = bytes(buf[:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text!r}") from None
        end = eol + 2 + size
        if size == 0:  # last chunk; the proxy sends no trailers
            if len(buf) < eol + 4:
                return None
            del buf[: eol + 4]
            return b""
        if len(buf) < end + 2:
            return None
        data = bytes(buf[eol + 2: end])
        del buf[: end + 2]
        return data


class _Chunks:
    """Async iterator over chunk payloads (see :meth:`Reader.chunks`)."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        while True:
            chunk = self._reader.take_chunk()
            if chunk is not None:
                if chunk == b"":
                    raise StopAsyncIteration
                return chunk
            await self._reader._fill()


@dataclass(slots=True)
class Event:
    """One dispatched SSE event (comments and ``retry:``-only blocks are not events)."""

    id: str | None
    event: str
    data: bytes


@dataclass(slots=True)
class SSEParser:
    """Incremental ``text/event-stream`` parser: feed bytes, get complete events.

    Lines end with LF (the proxy never sends CR); a blank line dispatches the block. ``last_id``
    follows the spec: it persists across events until a new ``id:`` arrives.
    """

    last_id: str | None = None
    _pending: bytes = b""
    _data: list[bytes] = field(default_factory=list)
    _event: str = "message"
    _has_data: bool = False

    def feed(self, chunk: bytes) -> Iterator[Event]:
        text = self._pending + chunk if self._pending else chunk
        start = 0
        while True:
            nl = text.find(b"\n", start)
            if nl < 0:
                break
            line = text[start:nl]
            start = nl + 1
            if not line:
                if self._has_data:
                    yield Event(self.last_id, self._event, b"\n".join(self._data))
                self._data = []
                self._event = "message"
                self._has_data = False
                continue
            if line[0:1] == b":":
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
                self._has_data = True
            elif name == b"id":
                self.last_id = value.decode()
            elif name == b"event":
                self._event = value.decode()
        self._pending = text[start:]
