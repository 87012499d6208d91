"""``GET /dashboard-stream``: the SSE endpoint, as a plain ASGI handler mounted in front of Quart.

Plain ASGI because the stream needs what a framework response hides: a disconnect watcher so no
task outlives its client, and no per-chunk framework overhead on the fan-out path.
"""

from __future__ import annotations

import random
from urllib.parse import parse_qs

import trio

from proxy.errors import SubscriberClosed
from proxy.http.asgi import Receive, Scope, Send, header_map, respond
from proxy.http.cors import CorsPolicy
from proxy.hub.subscriber import Subscriber
from proxy.runtime import Runtime
from proxy.sse import encode_retry


class StreamEndpoint:
    def __init__(self, runtime: Runtime, cors: CorsPolicy) -> None:
        self._rt = runtime
        self._cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt = self._rt
        settings = rt.settings
        headers = header_map(scope)
        origin = headers.get("origin")
        cors = self._cors.response_headers(origin)
        if scope["method"] != "GET":
            await respond(send, 405, [("Allow", "GET, OPTIONS"), *cors])
            return
        if rt.broker.subscriber_count >= settings.max_clients:
            rt.metrics.shed.inc()
            retry_after = str(random.randint(1, 5))  # spread a reconnect storm out
            body = b'{"error":"overloaded","message":"too many stream clients, retry later"}'
            await respond(send, 503, [("Retry-After", retry_after), ("Content-Type", "application/json"), *cors],
                          body)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        queues = ",".join(query.get("queues", []))
        only = frozenset(q for q in queues.split(",") if q) or None
        last_event_id = headers.get("last-event-id") or (query.get("lastEventId") or [None])[0]
        subscriber = Subscriber(capacity=settings.client_buffer, stall_s=settings.client_stall_s, only=only)
        start = rt.broker.attach(subscriber, last_event_id)
        rt.metrics.sse_starts.labels(start).inc()
        rt.metrics.clients.inc()
        try:
            await send({
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                    *((k.encode(), v.encode()) for k, v in cors),
                ],
            })
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_disconnect, receive, nursery.cancel_scope)
                await self._pump(subscriber, send)
                nursery.cancel_scope.cancel()
        finally:
            rt.broker.detach(subscriber)
            rt.metrics.clients.dec()
            # A client that fell behind (its frames were coalesced) and whose connection then ended was cut
            # by TCP_USER_TIMEOUT or by its own give-up: either way it is counted as stalled, not as a normal leave.
            reason = subscriber.closed_reason or ("stalled" if subscriber.coalesced else "client")
            rt.metrics.disconnects.labels(reason).inc()

    async def _pump(self, subscriber: Subscriber, send: Send) -> str:
        """Write frames until the subscriber is closed; returns why the stream ended.

        No deadline per write and no timer per wait: both would cost a cancel scope per frame on the
        fan-out path. A client that stops reading is cut by ``TCP_USER_TIMEOUT`` (see ``server.py``)
        and by its mailbox's stall rule; keepalives come from the broker's one shared ticker.
        """
        settings = self._rt.settings
        try:
            # ``retry:`` rides in the first event's block: a block with no data dispatches nothing in
            # browsers, but some client libraries surface it as an empty event.
            chunks = subscriber.drain()  # the subscriber may be closed already (shutdown during send(start))
            retry = encode_retry(settings.retry_ms)
            chunks = [retry[:-1] + chunks[0], *chunks[1:]] if chunks else [retry]
            while True:
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
                chunks = []  # hold nothing while idle
                chunks = await subscriber.next()
        except SubscriberClosed as closed:
            if closed.reason != "stalled":
                with trio.move_on_after(1):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            return closed.reason


async def _watch_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
