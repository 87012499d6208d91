"""The app factory: a ``QuartTrio`` app with the callback, the stream, the API and the wallboard.

Routes only translate between HTTP and the runtime; the work happens in ingest, state and hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import RequestEntityTooLarge

from proxy.errors import InvalidInput
from proxy.http.cors import CorsPolicy
from proxy.http.stream import STREAM_PATH, Receive, Scope, Send, StreamEndpoint, respond
from proxy.ingest.envelope import parse_callback
from proxy.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from proxy.runtime import Runtime, build_runtime
from proxy.settings import Settings

CALLBACK_PATH = "/api/v1/event-stream/callback"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_encode = msgspec.json.Encoder().encode


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status=status, content_type="application/json", headers=headers)


def _error(status: int, error: str, message: str, **extra: Any) -> Response:
    return _json(status, {"error": error, "message": message, **extra})


def create_app(settings: Settings, runtime: Runtime | None = None) -> QuartTrio:
    """Build the app; its lifespan nursery runs the runtime's loops (aggregator, watchdog, upstream)."""
    rt = runtime or build_runtime(settings)
    app = QuartTrio(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = None
    app.config["RESPONSE_TIMEOUT"] = None
    app.extensions["queuecast"] = rt
    cors = CorsPolicy(settings.cors_origins)
    stream = StreamEndpoint(rt, cors)

    @app.before_serving
    async def _start() -> None:
        await app.nursery.start(rt.serve)

    @app.after_request
    async def _cors(response: Response) -> Response:
        for key, value in cors.response_headers(request.headers.get("Origin")):
            response.headers[key] = value
        return response

    @app.errorhandler(RequestEntityTooLarge)
    async def _too_large(_: RequestEntityTooLarge) -> Response:
        rt.metrics.callbacks.labels("413").inc()
        return _error(413, "too_large", f"body over {settings.max_body_bytes} bytes (QC_MAX_BODY_BYTES)")

    @app.post(CALLBACK_PATH)
    async def callback() -> Response:
        raw = await request.get_data(cache=False)
        assert isinstance(raw, bytes)  # get_data(as_text=False) returns bytes
        response = _handle_callback(rt, raw, request.headers, request.mimetype)
        rt.metrics.callbacks.labels(str(response.status_code)).inc()
        return response

    @app.get("/api/v1/queues")
    async def queues() -> Response:
        return Response(rt.broker.snapshot().data(), content_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        if not rt.ready:
            return _json(503, {"status": "starting"})
        return _json(200, {"status": "ready", "upstream": rt.status.state})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(rt.metrics.render(), content_type=METRICS_CONTENT_TYPE)

    @app.get("/")
    async def wallboard() -> Response:
        return await app.send_static_file("index.html")

    inner = app.asgi_app

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] == "OPTIONS" and "access-control-request-method" in {
                k.decode("latin-1").lower() for k, _ in scope["headers"]
            }:
                origin = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"origin"), None)
                status, headers = cors.preflight(origin)
                await respond(send, status, headers)
                return
            if scope["path"] == STREAM_PATH:
                await stream(scope, receive, send)
                return
        await inner(scope, receive, send)  # type: ignore[arg-type]  # ASGI dicts; Quart types them as TypedDicts

    app.asgi_app = asgi  # type: ignore[method-assign, assignment]  # the documented Quart middleware seam
    return app


def _handle_callback(rt: Runtime, raw: bytes, headers: Any, mimetype: str) -> Response:
    """Size was checked by Quart (413); then authentication (401), content type (415), parse (400), apply."""
    reason = rt.auth.check(raw, headers)
    if reason is not None:
        return _error(401, "unauthorized", reason)
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return _error(415, "unsupported_media_type", f"expected application/json, got {mimetype or 'none'!r}")
    try:
        events = parse_callback(raw, rt.topics)
    except InvalidInput as exc:
        return _error(400, "invalid", exc.problem, field=exc.field)
    outcomes = rt.ingestor.ingest(events)
    return _json(200, {"received": len(events), **outcomes})
