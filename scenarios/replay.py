"""replay: one user replays a recorded trace (TRACE, JSONL from ``queuecast record``) at SPEED.

Deliveries are posted through the callback with their original spacing divided by SPEED, with
fresh event ids and timestamps moved to now (so replaying twice into one proxy is not deduped).
The trace loops until the run ends.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from _common import CALLBACK, iso, signed
from locust import HttpUser, constant, task

TRACE = os.environ.get("TRACE", "scenarios/traces/peak-wave-token-expiry.jsonl")
SPEED = float(os.environ.get("SPEED", "10"))
TIME_KEYS = ("observedAt", "timestamp", "time")


def load() -> list[tuple[float, object]]:
    with open(TRACE) as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    return [(float(x["t"]), x["body"]) for x in lines[1:] if "body" in x]


def retime(value: object, shift: timedelta) -> object:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in TIME_KEYS and isinstance(item, str):
                out[key] = iso((datetime.fromisoformat(item) + shift).timestamp())
            elif key == "eventId":
                out[key] = str(uuid.uuid4())
            else:
                out[key] = retime(item, shift)
        return out
    if isinstance(value, list):
        return [retime(v, shift) for v in value]
    return value


class Replayer(HttpUser):
    fixed_count = 1
    wait_time = constant(0)

    @task
    def replay(self) -> None:
        entries = load()
        start = time.time()
        first = next((f for _, body in entries if (f := _first_time(body)) is not None), None)
        # one shift for the whole pass: order and spacing of the recorded times are kept
        shift = datetime.now(UTC) - first if first else timedelta(0)
        for t, body in entries:
            delay = start + t / SPEED - time.time()
            if delay > 0:
                time.sleep(delay)
            raw, headers = signed(retime(body, shift))
            self.client.post(CALLBACK, data=raw, headers=headers, name="replay callback")


def _first_time(body: object) -> datetime | None:
    item = body[0] if isinstance(body, list) and body else body
    if isinstance(item, dict) and isinstance(item.get("timestamp"), str):
        return datetime.fromisoformat(item["timestamp"])
    return None
