"""dashboards: SSE viewers that hold streams, resume with Last-Event-ID, and report latency.

One publisher posts a real-shaped message every 100 ms, its platform instant = now; every viewer
reports, as custom statistics, the end-to-end latency (``updatedAt`` of the newest view in a frame →
receipt; interval messages carry no instant and move no ``updatedAt``), the staleness of its view
at each frame (receipt − the oldest ``updatedAt`` among the queues it just received), and every
(re)connection as ``snapshot`` or ``resume`` (the proxy replayed the missed deltas). Viewers drop
their stream every ~10 s and resume with ``Last-Event-ID``.
"""

from __future__ import annotations

import json
import random
import time

from _common import CALLBACK, envelope, metric, parse_iso, read_sse, signed, workload
from locust import HttpUser, between, constant, task

MESSAGES = workload(20, "dash")


class Publisher(HttpUser):
    fixed_count = 1
    wait_time = constant(0.1)

    @task
    def publish(self) -> None:
        body, headers = signed(envelope(MESSAGES))
        self.client.post(CALLBACK, data=body, headers=headers, name="callback")


class Viewer(HttpUser):
    wait_time = between(0.1, 0.5)
    last_id: str | None = None

    @task
    def watch(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        started = time.time()
        response = self.client.get("/dashboard-stream", stream=True, headers=headers, timeout=(5, 30),
                                   name="GET /dashboard-stream")
        try:
            if response.status_code != 200:
                return
            hold = random.uniform(6, 12)
            first = True
            for event, event_id, data in read_sse(response):
                now = time.time()
                if event_id:
                    self.last_id = event_id
                if event not in ("snapshot", "delta"):
                    continue
                if first:
                    metric("resume" if event == "delta" else "snapshot", (now - started) * 1000, kind="CONNECT")
                    first = False
                views = json.loads(data)["queues"].values()
                updated = [parse_iso(v["updatedAt"]) for v in views if v.get("updatedAt")]
                if event == "delta" and updated:
                    metric("end-to-end latency", (now - max(updated)) * 1000, length=len(data))
                    metric("staleness", (now - min(updated)) * 1000)
                if now - started > hold:
                    break
        finally:
            response.close()
