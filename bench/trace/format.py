"""The trace format: JSONL lines, their scrubbing, and reading a trace back.

A trace is one JSON object per line:

- line 1, the header: ``{"trace": "queuecast", "version": 1, "recordedAt", "source", "deliveries"?}``;
- then deliveries in arrival order: ``{"t": seconds since the recording started, "body": <the JSON
  body of one callback: an envelope or an array of envelopes>}``;
- and marks of what the recorder did meanwhile: ``{"t": ..., "mark": "tokens expired"}`` (replay
  prints them and does not post them).

What is *not* recorded: request headers (the HMAC signature, API keys) and the sender's secret.
Bodies are scrubbed by :func:`scrub`: subscription ids become ``sub-trace`` and fields that can
hold personal data (user ids and names, e-mail, phone numbers, ANI/DNIS, addresses) are replaced.
Queue names stay: they are business data, and a wallboard replay needs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

VERSION = 1
#: Keys whose values are replaced wherever they occur (case-insensitive): they can carry personal data.
PERSONAL_KEYS = frozenset({"userid", "username", "user", "email", "emailaddress", "phone", "phonenumber", "ani",
                           "dnis", "address", "addressnormalized", "customername", "participantname",
                           "externalcontactid", "remotename"})


def scrub(value: Any) -> Any:
    """A copy of a callback body with subscription ids and personal fields replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            lowered = key.lower()
            if lowered == "subscriptionid":
                out[key] = "sub-trace"
            elif lowered in PERSONAL_KEYS:
                out[key] = "[redacted]"
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def header(source: str) -> dict[str, Any]:
    """The first line of a trace recorded now, from ``source`` (free text: where the bodies came from)."""
    return {"trace": "queuecast", "version": VERSION,
            "recordedAt": datetime.now(UTC).isoformat(timespec="seconds"), "source": source}


def delivery(t: float, body: Any) -> dict[str, Any]:
    """The line of one callback body received ``t`` s into the recording; the body is scrubbed here."""
    return {"t": round(t, 4), "body": scrub(body)}


def mark(t: float, text: str) -> dict[str, Any]:
    """The line of something the recorder did ``t`` s into the recording."""
    return {"t": round(t, 4), "mark": text}


def encode_line(obj: dict[str, Any]) -> str:
    """One line of the file, newline included (compact JSON)."""
    return json.dumps(obj, separators=(",", ":")) + "\n"


def read_trace(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header and an iterator over the remaining lines. Raises ``ValueError`` if it is not a trace.

    The file stays open until the iterator is exhausted (or closed); a line that is not JSON raises
    ``ValueError`` naming ``path:line`` when the iterator reaches it.
    """
    handle = path.open()
    first = handle.readline()
    try:
        parsed = json.loads(first)
    except ValueError:
        handle.close()
        raise ValueError(f"{path}: first line is not JSON") from None
    if not isinstance(parsed, dict) or parsed.get("trace") != "queuecast":
        handle.close()
        raise ValueError(f"{path}: not a queuecast trace (no header line)")

    def lines() -> Iterator[dict[str, Any]]:
        with handle:
            for number, line in enumerate(handle, start=2):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        raise ValueError(f"{path}:{number}: not JSON") from None

    return parsed, lines()
