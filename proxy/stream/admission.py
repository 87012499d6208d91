"""Who may open a stream, and how it starts: one protocol-independent decision for every stream path.

The socket path (:mod:`proxy.stream.connection`) and the ASGI fallback (:mod:`proxy.http.stream`, for a
keep-alive connection that Hypercorn already owns) both call :func:`admit`, so a rule added here
(method, CORS preflight, shedding, the ``queues`` filter, ``Last-Event-ID``, viewer access) holds on both.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs

import trio

from proxy.auth.viewer import refusal
from proxy.errors import Unauthorized
from proxy.hub.broker import Start
from proxy.hub.subscriber import Subscriber
from proxy.runtime import Runtime

Headers = list[tuple[str, str]]


class Cors(Protocol):
    """The CORS allowlist as admission uses it (``proxy.http.cors.CorsPolicy``; a protocol, so this
    package does not depend on the HTTP package that depends on it)."""

    def response_headers(self, origin: str | None) -> Headers: ...

    def preflight(self, origin: str | None) -> tuple[int, Headers]: ...

#: The response head of an admitted stream, before CORS (DESIGN 3.5: no store, no proxy buffering).
STREAM_HEADERS: Headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                           ("X-Accel-Buffering", "no")]
OVERLOADED = b'{"error":"overloaded","message":"too many stream clients or connections, retry later"}'


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """What admission reads of a request: its method, headers (names lower-case) and raw query string."""

    method: str
    headers: Mapping[str, str]
    query_string: str

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A complete response instead of a stream (preflight, 405, 503, ...)."""

    status: int
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Admission:
    """An attached subscriber and the response head of its stream."""

    subscriber: Subscriber
    start: Start
    headers: Headers


def parse_filter(query: Mapping[str, Sequence[str]]) -> frozenset[str] | None:
    """``?queues=a,b`` (repeatable) as a set, or None for every queue."""
    queues = ",".join(query.get("queues", []))
    return frozenset(q for q in queues.split(",") if q) or None


def admit(rt: Runtime, cors: Cors, request: StreamRequest,
          make_subscriber: Callable[[frozenset[str] | None], Subscriber]) -> Admission | Refusal:
    """Admit ``request`` to the stream, or say how to refuse it. Synchronous: the subscriber is attached
    (its replay or snapshot queued) before this returns, so no frame falls between decision and stream.

    Counts ``queuecast_sse_shed`` and ``queuecast_sse_starts``; the caller owns the subscriber from here
    (``rt.broker.detach`` and the ``clients``/``disconnects`` metrics when its stream ends).
    """
    origin = request.headers.get("origin")
    cors_headers = cors.response_headers(origin)
    if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
        status, headers = cors.preflight(origin)
        return Refusal(status, headers)
    if request.method != "GET":
        return Refusal(405, [("Allow", "GET, OPTIONS"), *cors_headers])
    query = request.query
    try:  # before shedding: a flood without valid tokens spends none of the connect budget
        viewer = rt.viewers.authorize(request.headers, query)
    except Unauthorized as exc:
        status, refused, body = refusal(exc)
        return Refusal(status, [*refused, *cors_headers], body)
    if rt.broker.subscriber_count >= rt.settings.max_clients or not rt.connects.take():
        rt.metrics.shed.inc()
        retry_after = str(random.randint(1, 5))  # spread a reconnect storm out
        return Refusal(503, [("Retry-After", retry_after), ("Content-Type", "application/json"), *cors_headers],
                       OVERLOADED)
    last_event_id = request.headers.get("last-event-id") or next(iter(query.get("lastEventId", ())), None)
    subscriber = make_subscriber(viewer.restrict(parse_filter(query)))  # never more than the token allows
    if viewer.expires_at != math.inf:  # the keepalive ticker ends the stream at the token's exp
        subscriber.expires_at = trio.current_time() + viewer.seconds_left()
    start = rt.broker.attach(subscriber, last_event_id)
    rt.metrics.sse_starts.labels(start).inc()
    return Admission(subscriber, start, [*STREAM_HEADERS, *cors_headers])


def shutdown_retry_ms(retry_ms: int) -> int:
    """The ``retry:`` of a stream's last block at shutdown: jittered over [retry, 4 × retry] (at least 1 s
    of spread), so the clients of a restarting proxy do not all come back in the same instant."""
    return random.randint(retry_ms, max(retry_ms * 4, retry_ms + 1000))
