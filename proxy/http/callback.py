"""``POST /api/v1/event-stream/callback`` as a plain ASGI handler in front of Quart.

The callback is the ingest hot path (thousands of small requests a second), so it skips the
framework's request/response objects. Order (DESIGN 3.6): size (413, checked on
``Content-Length`` and while reading) → authentication (401) → content type (415) → parse and
validate the whole body (400 naming the field, nothing applied) → apply (200 with the outcomes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import trio

from proxy.contract import json_encode as _encode
from proxy.errors import InvalidInput, StoreUnavailable
from proxy.http.asgi import Receive, Scope, Send, header_map, respond
from proxy.ingest.envelope import InboundEvent, parse_callback
from proxy.runtime import Runtime

_JSON = ("Content-Type", "application/json")
#: The CORS headers of a response, given the request's ``Origin``.
CorsHeaders = Callable[[str | None], list[tuple[str, str]]]


class _Disconnected(Exception):
    """The client went away before its body was read: nothing to answer, nothing applied."""


def _error(status: int, error: str, message: str, **extra: Any) -> tuple[int, bytes]:
    return status, _encode({"error": error, "message": message, **extra})


def handle_callback(rt: Runtime, raw: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """Authenticate, validate and apply one callback body; returns (status, JSON body). No network I/O:
    it applies the events to the runtime synchronously."""
    checked = check_callback(rt, raw, headers)
    if isinstance(checked, tuple):
        return checked
    outcomes = rt.ingestor.ingest(checked)
    return 200, _encode({"received": len(checked), **outcomes})


async def handle_cluster_callback(rt: Runtime, raw: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """In a cluster: authenticated and validated here, then made durable in Redis (deduplicated
    cluster-wide) for the leader to apply; 200 only after that, 503 while Redis is unreachable."""
    assert rt.cluster is not None
    checked = check_callback(rt, raw, headers)
    if isinstance(checked, tuple):
        return checked
    try:
        accepted, duplicate = await rt.cluster.intake.accept(raw, checked)
    except StoreUnavailable:
        return _error(503, "unavailable", "the cluster's store is unreachable; nothing was accepted, retry")
    return 200, _encode({"received": len(checked), "accepted": accepted, "duplicate": duplicate})


def check_callback(rt: Runtime, raw: bytes, headers: Mapping[str, str]) -> tuple[int, bytes] | list[InboundEvent]:
    """Authenticate and validate a body: its events, or the (status, JSON body) that refuses it."""
    reason = rt.auth.check(raw, headers)
    if reason is not None:
        return _error(401, "unauthorized", reason)
    mimetype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return _error(415, "unsupported_media_type", f"expected application/json, got {mimetype or 'none'!r}")
    try:
        return parse_callback(raw, rt.topics)
    except InvalidInput as exc:
        return _error(400, "invalid", exc.problem, field=exc.field)


class CallbackEndpoint:
    def __init__(self, runtime: Runtime, cors_headers: CorsHeaders) -> None:
        self._rt = runtime
        self._cors = cors_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt = self._rt
        limit = rt.settings.max_body_bytes
        headers = header_map(scope)
        extra = [_JSON, *self._cors(headers.get("origin"))]
        if scope["method"] != "POST":
            await respond(send, 405, [("Allow", "POST"), *extra], b'{"error":"method_not_allowed"}')
            return
        if not rt.drain.enter():  # shutting down: nothing accepted that could not be published any more
            rt.metrics.callbacks.labels("503").inc()
            await respond(send, 503, [("Retry-After", "1"), *extra],
                          b'{"error":"shutting_down","message":"this instance is stopping; redeliver"}')
            return
        try:
            status, body = await self._read_and_handle(receive, headers, limit)
        except _Disconnected:
            rt.metrics.callbacks.labels("disconnected").inc()
            return
        finally:
            rt.drain.leave()
        rt.metrics.callbacks.labels(str(status)).inc()
        await respond(send, status, extra, body)

    async def _read_and_handle(self, receive: Receive, headers: Mapping[str, str], limit: int) -> tuple[int, bytes]:
        read = await self._read_body(receive, headers, limit)
        if isinstance(read, tuple):
            return read
        if self._rt.cluster is not None:
            return await handle_cluster_callback(self._rt, read, headers)
        return handle_callback(self._rt, read, headers)

    async def _read_body(self, receive: Receive, headers: Mapping[str, str], limit: int) -> bytes | tuple[int, bytes]:
        """The whole body within ``QC_BODY_TIMEOUT_S`` (a body trickled a byte a second is a 408, not a task
        held for ever), at most ``limit`` bytes (413)."""
        too_large = _error(413, "too_large", f"body over {limit} bytes (QC_MAX_BODY_BYTES)")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return too_large
        chunks: list[bytes] = []
        size = 0
        timeout_s = self._rt.settings.body_timeout_s
        with trio.move_on_after(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return too_large
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        return _error(408, "body_timeout", f"body not complete within {timeout_s:g} s (QC_BODY_TIMEOUT_S)")
