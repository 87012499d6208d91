"""The app factory: a ``QuartTrio`` app with the callback, the stream, the API and the wallboard.

Routes only translate between HTTP and the runtime; the work happens in ingest, state and hub.
The callback and the stream are plain ASGI handlers mounted in front of Quart (``http/callback.py``,
``http/stream.py``): they are the hot paths, and they need control a framework response hides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from proxy.auth.viewer import refusal
from proxy.contract import CALLBACK_PATH, STREAM_PATH, json_encode
from proxy.errors import Unauthorized
from proxy.http.asgi import Receive, Scope, Send, respond
from proxy.http.boards import load_boards
from proxy.http.callback import CallbackEndpoint
from proxy.http.cors import CorsPolicy
from proxy.http.stream import StreamEndpoint
from proxy.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from proxy.runtime import Runtime, build_runtime

__all__ = ["CALLBACK_PATH", "STREAM_PATH", "create_app"]
from proxy.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json_encode(body), status=status, content_type="application/json", headers=headers)


def create_app(settings: Settings, runtime: Runtime | None = None) -> QuartTrio:
    """Build the app. It only translates HTTP: the runtime's components run beside it (``server.serve``).

    Raises :class:`~proxy.errors.ConfigError` when ``QC_BOARDS_FILE`` cannot be read or is wrong.
    """
    boards = load_boards(settings.boards_file)
    index_html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    rt = runtime or build_runtime(settings)
    app = QuartTrio(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # no Quart route takes a body; the callback has its own limit
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = None
    app.config["RESPONSE_TIMEOUT"] = None
    app.extensions["queuecast"] = rt
    cors = CorsPolicy(settings.cors_origins)
    stream = StreamEndpoint(rt, cors)
    callback = CallbackEndpoint(rt, cors.response_headers)

    @app.after_request
    async def _cors(response: Response) -> Response:
        for key, value in cors.response_headers(request.headers.get("Origin")):
            response.headers[key] = value
        return response

    @app.get("/api/v1/queues")
    async def queues() -> Response:
        try:
            headers = {k.lower(): v for k, v in request.headers.items()}
            viewer = rt.viewers.authorize(headers, request.args.to_dict(flat=False))
        except Unauthorized as exc:
            status, refused, body = refusal(exc)
            return Response(body, status=status, headers=dict(refused))
        return Response(rt.broker.snapshot().data(viewer.restrict(None)), content_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        ready, body = rt.readiness()
        return _json(200 if ready else 503, body)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(rt.metrics.render(), content_type=METRICS_CONTENT_TYPE)

    @app.get("/")
    async def wallboard() -> Response:
        return await app.send_static_file("index.html")

    @app.get("/b/<name>")
    async def saved_board(name: str) -> Response:
        board = boards.get(name)
        if board is None:
            return _json(404, {"error": f"no saved board named {name!r}"})
        # the board travels inside the page, so its URL stays short and one request shows it
        script = f'<script type="application/json" id="saved-board">{board.page_json()}</script>\n</head>'
        return Response(index_html.replace("</head>", script, 1), content_type="text/html; charset=utf-8")

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
            if scope["path"] == CALLBACK_PATH:
                await callback(scope, receive, send)
                return
        await inner(scope, receive, send)  # type: ignore[arg-type]  # ASGI dicts; Quart types them as TypedDicts

    app.asgi_app = asgi  # type: ignore[method-assign, assignment]  # the documented Quart middleware seam
    return app
