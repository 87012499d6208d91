"""``GET /dashboard-stream`` on a connection Hypercorn already owns: the ASGI fallback of the stream.

New connections to the stream are served on the socket path (:mod:`proxy.stream`), which the front
dispatches on the request line. A browser may still ask for the stream on a keep-alive connection that
carried another request first; Hypercorn owns that connection, and this plain ASGI handler serves it,
with the same admission (:func:`proxy.stream.admission.admit`) and the same subscriber behaviour.
"""

from __future__ import annotations

import trio

from proxy.errors import SubscriberClosed
from proxy.http.asgi import Receive, Scope, Send, header_map, respond
from proxy.http.cors import CorsPolicy
from proxy.hub.subscriber import Subscriber
from proxy.runtime import Runtime
from proxy.sse import encode_retry
from proxy.stream.admission import Refusal, StreamRequest, admit, shutdown_retry_ms


class StreamEndpoint:
    def __init__(self, runtime: Runtime, cors: CorsPolicy) -> None:
        self._rt = runtime
        self._cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt = self._rt
        settings = rt.settings
        request = StreamRequest(scope["method"], header_map(scope), scope.get("query_string", b"").decode("latin-1"))
        decision = admit(rt, self._cors, request, lambda only: Subscriber(
            capacity=settings.client_buffer, stall_s=settings.client_stall_s, only=only))
        if isinstance(decision, Refusal):
            await respond(send, decision.status, decision.headers, decision.body)
            return
        subscriber = decision.subscriber
        rt.metrics.clients.inc()
        try:
            await send({
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode(), v.encode()) for k, v in decision.headers],
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
                    if closed.reason == "shutdown":  # reconnects spread: a jittered retry in the last block
                        last = encode_retry(shutdown_retry_ms(settings.retry_ms))
                        await send({"type": "http.response.body", "body": last, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            return closed.reason


async def _watch_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
