"""Helpers shared by the locustfiles (run in .venv-load: stdlib + locust only, never imported by pytest)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from locust import events

SECRET = os.environ.get("QC_CALLBACK_SECRET", "")
SIM_URL = os.environ.get("SIM_URL", "")
DURATION_S = float(os.environ.get("SCENARIO_DURATION_S", "30"))
USERS = int(os.environ.get("SCENARIO_USERS", "20"))
CALLBACK = "/api/v1/event-stream/callback"
TOPIC = "com.genesyscloud.telephony.queue.update"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def envelope(queue_id: str) -> dict[str, Any]:
    now = time.time()
    waiting = random.randrange(0, 20)
    return {"eventId": str(uuid.uuid4()), "subscriptionId": "sub-locust", "topic": TOPIC, "timestamp": iso(now),
            "payload": {"queueState": {
                "queueId": queue_id, "queueName": f"Load {queue_id}", "mediaType": "voice", "observedAt": iso(now),
                "oWaiting": waiting, "oInteracting": random.randrange(0, 40), "oAlerting": random.randrange(0, 3),
                "oLongestWaiting": iso(now - random.randrange(1, 300)) if waiting else None}}}


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
