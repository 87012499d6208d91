"""Helpers shared by the locustfiles (run in .venv-load: stdlib + locust only, never imported by pytest).

Bodies are real-shaped ``v2.analytics.queues.{id}.observations`` messages drawn by
:class:`bench.workload.Workload` (standard library only; ``scenarios.run`` puts the repository on
``PYTHONPATH``): instant messages with only the changed counts, interval and agent messages now and then.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime
from typing import Any

from locust import events

from bench.workload import Workload

SECRET = os.environ.get("QC_CALLBACK_SECRET", "")
SIM_URL = os.environ.get("SIM_URL", "")
DURATION_S = float(os.environ.get("SCENARIO_DURATION_S", "30"))
USERS = int(os.environ.get("SCENARIO_USERS", "20"))
CALLBACK = "/api/v1/event-stream/callback"


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def workload(queues: int, prefix: str) -> Workload:
    """Messages over ``queues`` queues named ``prefix-00000``…; sent instants are not kept (long runs)."""
    return Workload(queues, prefix=prefix, keep_sent=False)


def envelope(source: Workload) -> dict[str, Any]:
    """The next message of ``source``, for a random queue, in the Event Bus envelope."""
    return source.next().envelope(subscription_id="sub-locust")


def signed(body: Any) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if SECRET:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, headers


def metric(name: str, ms: float, *, kind: str = "SSE", length: int = 0, exception: Exception | None = None) -> None:
    """A custom Locust statistic (appears in the CSV/HTML like a request)."""
    events.request.fire(request_type=kind, name=name, response_time=ms, response_length=length,
                        exception=exception, context={})


def read_sse(response: Any):  # type: ignore[no-untyped-def]
    """Yield ``(event, id, data)`` from a streaming ``requests`` response (chunked, LF-terminated)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw == "":
            if data:
                yield fields.get("event", "message"), fields.get("id"), "\n".join(data)
            fields, data = {}, []
        elif raw.startswith(":"):
            continue
        else:
            name, _, value = raw.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
