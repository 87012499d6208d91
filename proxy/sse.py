"""Server-Sent Events encoding (WHATWG HTML §9.2), pure and unit-tested.

``data`` containing line breaks is split into several ``data:`` lines (the browser joins them
with ``\\n``); ``id`` and ``event`` have CR/LF removed, so a value can never inject a field.
"""

from __future__ import annotations

import re

_NEWLINES = re.compile(rb"\r\n|\r|\n")
_STRIP = re.compile(r"[\r\n\x00]")


def encode_event(data: bytes | str, *, event: str | None = None, id: str | None = None) -> bytes:
    """One SSE event: optional ``id:`` and ``event:`` lines, ``data:`` lines, a blank line."""
    if isinstance(data, str):
        data = data.encode()
    out = bytearray()
    if id is not None:
        out += b"id: " + _STRIP.sub("", id).encode() + b"\n"
    if event is not None:
        out += b"event: " + _STRIP.sub("", event).encode() + b"\n"
    for line in _NEWLINES.split(data):
        out += b"data: " + line + b"\n"
    out += b"\n"
    return bytes(out)


def encode_retry(ms: int) -> bytes:
    return b"retry: " + str(int(ms)).encode() + b"\n\n"


def encode_comment(text: str) -> bytes:
    """A comment line (ignored by browsers, keeps intermediaries from timing out)."""
    return b": " + _STRIP.sub(" ", text).encode() + b"\n\n"
