"""Platform-style error answers for every route, the unrouted ones included.

The platform answers every error of its API as an ``ErrorBody`` (``message``, ``code``,
``status``, …; reference §1), never an HTML page. Quart's own answers (unknown route, wrong method,
an unreadable request, a crash in a handler) are translated here at the edge; the control API
(``/sim/…``) keeps its documented ``{"error": …}`` bodies for the errors its handlers choose.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from . import wire

_LOG = logging.getLogger(__name__)

CODES: Final = {
    400: "bad.request",
    401: "bad.credentials",
    403: "not.authorized",
    404: "not.found",
    405: "method.not.allowed",
    413: "request.entity.too.large",
    415: "unsupported.media.type",
    429: "too.many.requests",
    500: "internal.server.error",
    503: "service.unavailable",
}
"""``code`` per HTTP status. ``bad.request``, ``bad.credentials``, ``not.found`` and
``too.many.requests`` appear in the reference; the others follow the platform's dotted style
(assumed)."""


def code_for(status: int) -> str:
    return CODES.get(status, "bad.request" if status < 500 else "internal.server.error")


def register_error_handlers(app: QuartTrio) -> None:
    """Answer every HTTP error and every unhandled exception of ``app`` with an ``ErrorBody``."""

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> tuple[Any, int]:
        status = exc.code or 500
        message = f"HTTP {status} {exc.name}"
        return wire.error_body(status, code_for(status), message), status

    @app.errorhandler(Exception)
    async def crash(exc: Exception) -> tuple[Any, int]:
        # a bug in the simulator: logged with its traceback, answered as the platform's 500
        _LOG.exception("unhandled error in a simulator route", exc_info=exc)
        return wire.error_body(500, "internal.server.error", "The server encountered an internal error."), 500
