"""replay: one user replays a recorded trace (TRACE, JSONL from ``queuecast record``) at SPEED.

Deliveries are posted through the callback with their original spacing divided by SPEED, with
fresh event ids and times moved to now by :class:`bench.retime.Retimer` (envelope times and
instants by one offset, 30-minute intervals by whole intervals), so replaying twice into one proxy
is neither deduped nor stale. The trace loops until the run ends; each pass starts after the
newest time of the one before.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from _common import CALLBACK, signed
from locust import HttpUser, constant, task

from bench.retime import Retimer

TRACE = os.environ.get("TRACE", "scenarios/traces/peak-wave-token-expiry.jsonl")
SPEED = float(os.environ.get("SPEED", "10"))


def load() -> list[tuple[float, object]]:
    with open(TRACE) as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    return [(float(x["t"]), x["body"]) for x in lines[1:] if "body" in x]


def fresh_ids(value: object) -> object:
    if isinstance(value, list):
        return [fresh_ids(v) for v in value]
    if isinstance(value, dict) and "eventId" in value:
        return {**value, "eventId": str(uuid.uuid4())}
    return value


class Replayer(HttpUser):
    fixed_count = 1
    wait_time = constant(0)
    newest: datetime | None = None

    @task
    def replay(self) -> None:
        entries = load()
        start = time.time()
        now = datetime.now(UTC)
        # one Retimer per pass keeps the recorded order and spacing; a pass never goes back in time
        retime = Retimer(now if self.newest is None else max(now, self.newest + timedelta(milliseconds=1)))
        for t, body in entries:
            delay = start + t / SPEED - time.time()
            if delay > 0:
                time.sleep(delay)
            raw, headers = signed(fresh_ids(retime(body)))
            self.client.post(CALLBACK, data=raw, headers=headers, name="replay callback")
        self.newest = retime.newest
