"""Log hygiene: a logging filter that masks tokens in every record before any handler writes it.

The proxy logs no request line and no header, and its secrets are :class:`~proxy.settings.Secret`s that
never print themselves; this is the second line: whatever a library or a future log line puts in a record
(a URL with ``?access_token=``, an ``Authorization: Bearer`` header, a JWT), the text that reaches a
handler has it masked. Installed on the root handlers by ``queuecast proxy``.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    # ?access_token=… / &access_token=… / access_token: … (query strings, form bodies, JSON-ish dumps)
    (re.compile(r"(access_token[\"']?\s*[=:]\s*[\"']?)[^&\s\"',;)}\]]+", re.I), r"\1<redacted>"),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9\-._~+/]+=*", re.I), r"\1<redacted>"),
    # a JWT anywhere (header.payload.signature, the header base64url of '{"')
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<jwt>"),
)


def redact(text: str) -> str:
    """``text`` with access tokens, bearer tokens and JWTs masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokens(logging.Filter):
    """Rewrites each record's message (and its traceback text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put :class:`RedactTokens` on every handler of ``logger`` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactTokens) for f in handler.filters):
            handler.addFilter(RedactTokens())
